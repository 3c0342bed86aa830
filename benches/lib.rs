//! What gyre's benchmarks (this package's bench targets, `cargo bench -p gyre-benches --bench
//! NAME`) share: where their results land, the tests' process supervisor, and small helpers.

pub mod results;
#[path = "../tests/common/supervise.rs"]
pub mod supervise;
pub mod util;
