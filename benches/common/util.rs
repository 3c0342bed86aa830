//! Small helpers the in-process benches share: pinning a thread to a core, medians and ranges.
#![allow(dead_code)] // each bench uses part of it

/// Pins the calling thread to `core` (best effort: a machine with one core runs both sides).
pub fn pin_current_thread(core: usize) {
    // SAFETY: an all-zero cpu_set_t is an empty set; CPU_SET writes inside it; pid 0 is the
    // calling thread and the size passed is the set's.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// The median (sorts `values`).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The smallest and largest of `values`.
pub fn range(values: &[f64]) -> (f64, f64) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}
