//! The bench binary harness (in progress).
pub fn harness_main() -> i32 { 0 }
