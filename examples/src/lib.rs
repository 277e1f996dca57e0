//! Algorithms measured by the example benches.
