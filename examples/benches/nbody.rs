//! The n-body candidates are registered in the library crate `jouletrace_examples_nbody`, which
//! this file does not otherwise use. Naming the crate in `main!` links it into the binary; without
//! it, the bench would find no candidates.

jouletrace::main!(jouletrace_examples_nbody);
