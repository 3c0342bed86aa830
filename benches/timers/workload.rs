//! The workload, the same for every structure and every run: N deadlines drawn from a
//! fixed-seed xorshift generator, a random half of them to cancel in random order, and the
//! check of what a structure fired and handed back.

/// Deadlines are drawn from `0..HORIZON` nanoseconds.
pub const HORIZON: u64 = 1_000_000_000;
const SEED: u64 = 0x2545_F491_4F6C_DD1D;

/// xorshift64: deterministic, dependency-free, good enough to scatter deadlines.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The same input for every structure and every round.
pub struct Workload {
    /// `deadlines[i]` is the deadline of the timer whose payload is `i`, in ns from 0.
    pub deadlines: Vec<u64>,
    /// Payloads to cancel, in the order they are cancelled (a random half).
    pub cancel_order: Vec<u32>,
    /// `cancelled[i]`: whether payload `i` is cancelled.
    pub cancelled: Vec<bool>,
    /// Sum of the cancelled payloads, to check what `cancel` hands back.
    pub cancelled_sum: u64,
}

impl Workload {
    pub fn new(n: usize) -> Workload {
        assert!(n <= u32::MAX as usize, "N must fit in u32");
        let mut rng = XorShift(SEED);
        let deadlines: Vec<u64> = (0..n).map(|_| rng.below(HORIZON)).collect();
        // Fisher–Yates shuffle of 0..n; the first half is the cancel set, in shuffled order.
        let mut order: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
        order.truncate(n / 2);
        let mut cancelled = vec![false; n];
        for &i in &order {
            cancelled[i as usize] = true;
        }
        let cancelled_sum = order.iter().map(|&i| u64::from(i)).sum();
        Workload {
            deadlines,
            cancel_order: order,
            cancelled,
            cancelled_sum,
        }
    }

    pub fn n(&self) -> usize {
        self.deadlines.len()
    }

    pub fn to_fire(&self) -> usize {
        self.n() - self.cancel_order.len()
    }
}

/// Checks a run against the workload: `cancelled` is the number and sum of the payloads
/// `cancel` handed back, `fired` the payloads in firing order; `ordered` also checks that order.
pub fn check(name: &str, w: &Workload, cancelled: (usize, u64), fired: &[u64], ordered: bool) {
    assert_eq!(cancelled.0, w.cancel_order.len(), "{name}: cancels");
    assert_eq!(cancelled.1, w.cancelled_sum, "{name}: cancelled payloads");
    assert_eq!(fired.len(), w.to_fire(), "{name}: number fired");
    let mut seen = vec![false; w.n()];
    for &p in fired {
        let p = p as usize;
        assert!(!w.cancelled[p], "{name}: cancelled payload {p} fired");
        assert!(!seen[p], "{name}: payload {p} fired twice");
        seen[p] = true;
    }
    if ordered {
        // Deadline order, ties in scheduling order (payload = scheduling index).
        for pair in fired.windows(2) {
            let a = (w.deadlines[pair[0] as usize], pair[0]);
            let b = (w.deadlines[pair[1] as usize], pair[1]);
            assert!(a < b, "{name}: fired {a:?} before {b:?}");
        }
    }
}
