//! One counting global allocator for the tests and benches that measure allocation
//! (`tests/no_alloc.rs`, `benches/timers.rs`, which includes this file by path): it forwards
//! everything to `System` and keeps the bytes allocated now and at the peak, and, while
//! counting is on, the number of allocations. A file that uses it installs it:
//! `#[global_allocator] static ALLOC: Counting = Counting;`.
#![allow(dead_code)] // each user reads part of it

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};

/// The allocator: `System`, counted.
pub struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// Counts allocations (and reallocations) from now on, from zero.
pub fn start_counting() {
    ALLOCATIONS.store(0, Relaxed);
    COUNTING.store(true, Relaxed);
}

/// Stops counting; returns the allocations made since [`start_counting`].
pub fn stop_counting() -> u64 {
    COUNTING.store(false, Relaxed);
    ALLOCATIONS.load(Relaxed)
}

/// Starts a memory measurement: resets the peak to the current level and returns it.
pub fn memory_baseline() -> usize {
    let now = CURRENT.load(Relaxed);
    PEAK.store(now, Relaxed);
    now
}

/// Peak bytes allocated since `memory_baseline` returned `base`.
pub fn memory_peak_since(base: usize) -> usize {
    PEAK.load(Relaxed).saturating_sub(base)
}

#[inline]
fn grew(bytes: usize) {
    let now = CURRENT.fetch_add(bytes, Relaxed) + bytes;
    if now > PEAK.load(Relaxed) {
        PEAK.fetch_max(now, Relaxed);
    }
}

#[inline]
fn shrank(bytes: usize) {
    CURRENT.fetch_sub(bytes, Relaxed);
}

#[inline]
fn counted() {
    if COUNTING.load(Relaxed) {
        ALLOCATIONS.fetch_add(1, Relaxed);
    }
}

// SAFETY: every method forwards its arguments unchanged to `System`, which implements
// `GlobalAlloc` correctly; the counters are only updated around the call and never affect the
// pointers returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        counted();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which is System's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        counted();
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was returned by this allocator, i.e. by System, with this layout.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        counted();
        // SAFETY: `ptr` was returned by System with `layout`; the caller upholds the rest.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        p
    }
}
