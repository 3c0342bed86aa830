//! Small helpers the benches share: pinning a thread to a core, and the median and range of
//! repeated runs (a few lines each: no crate needed).

use std::io;

/// A CPU set holding `core` alone.
pub fn cpu_set(core: usize) -> libc::cpu_set_t {
    // SAFETY: cpu_set_t is a plain bit array, for which all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET only writes bits of `set`, and ignores a core past its end.
    unsafe { libc::CPU_SET(core, &mut set) };
    set
}

/// Pins the calling thread (and the threads it spawns later) to `core`.
pub fn try_pin_current_thread(core: usize) -> io::Result<()> {
    let set = cpu_set(core);
    // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is the calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// [`try_pin_current_thread`], best effort (a machine with one core runs both sides).
pub fn pin_current_thread(core: usize) {
    let _ = try_pin_current_thread(core);
}

/// The median (the mean of the two middle values for an even count; NaN if there are none).
/// Sorts `values`.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// The smallest and largest of `values`.
pub fn range(values: &[f64]) -> (f64, f64) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}
