//! gyre's benchmarks live in this package's bench targets (`cargo bench -p gyre-benches --bench
//! NAME`); this library is empty.
