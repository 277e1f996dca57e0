// `cargo test` runs the criterion example in criterion's test mode (each routine once, no
// measurement statistics), so CI keeps it compiling and running without the `criterion`
// feature that `cargo bench` needs for it.

include!("../benches/criterion_energy.rs");
