//! Compile-time behaviour of the attributes: what must build, and what must fail with an error
//! at the mistake. Regenerate the expected errors with `TRYBUILD=overwrite` and read each one.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
