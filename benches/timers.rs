//! Timer queue benchmark (being written).
fn main() {}
