//! The `#[joule_bench]` and `#[joule_cases]` attributes of JouleTrace.
//!
//! Use them through the `jouletrace` crate (`use jouletrace::prelude::*;`), not directly: their
//! expansions name `::jouletrace::__private` and nothing else of the library. Each attribute
//! parses its arguments into typed values (module `args`), checks the function's signature
//! (`signature`), then expands (`cases`, `bench`); every error carries the span of the mistake.
//! The user guide is `docs/writing-benches.md`.

use proc_macro::TokenStream;

mod args;
mod bench;
mod cases;
mod problem;
mod signature;

/// Registers a function as a candidate: one implementation of a problem, checked against the
/// problem's cases and then measured.
///
/// ```ignore
/// #[joule_bench(problem = "sort", timeout = "5s", memory_limit_mb = 512)]
/// fn std_sort(mut v: Vec<u32>) -> Vec<u32> { v.sort_unstable(); v }
/// ```
///
/// The function is kept as written. Its parameters must fit the cases' input type: one
/// parameter takes the input itself, several take the fields of a tuple input in order. A
/// parameter of type `&T` borrows the case's value, so `fn find(xs: &[i32], k: usize)` fits an
/// input `(Vec<i32>, usize)`. Its return type must be the cases' output type.
///
/// # Where the cases come from (exactly one of)
///
/// - `problem = "name"`: the cases of the `#[joule_cases(problem = "name")]` function, which
///   must be in scope (the same module, or brought in with `use that_module::*`). The
///   candidate's id is `name::function`.
/// - `cases = path::to_fn`: its own cases, from a `fn() -> Vec<Case<I, O>>`. Its id is
///   `function::function`.
/// - `cases = [(input, expected), …]`: its own inline cases, each named by its input as written
///   (`cases = [(2, 4), (7, 49)]` gives cases `2` and `7`). With several parameters each input
///   is a tuple; reference parameters take `&'static` literals.
///
/// # How outputs are compared (default: `==`, showing both values with `Debug` on a mismatch)
///
/// - `tolerance = 1e-9`: floats (and `Vec`s, arrays, tuples, `Option`s of them) are equal when
///   `|a - b| <= tol * max(1, |a|, |b|)`.
/// - `check = path::to_fn`: a validator `fn(&Input, &Output) -> bool` for problems with several
///   right answers; the case's expected value is then not used.
///
/// # Options (each overrides the run's value for this candidate only)
///
/// | option | meaning | run default |
/// |---|---|---|
/// | `timeout = "5s"` | wall-clock limit per worker step; units `ms`, `s`, `m` | 10 s |
/// | `memory_limit_mb = 512` | address-space limit of the worker, MiB | 4096 MiB |
/// | `trials = 10` | minimum number of measured trials | 5 |
/// | `warmup = 2` | unmeasured warm-up trials | 1 |
/// | `threshold = 0.03` | energy rise that counts as a regression (3%) | 0.05 |
/// | `ignore` | skipped unless the run asks for ignored candidates | not ignored |
///
/// Mistakes are compile errors at the offending token: an unknown option, a bad value, both or
/// neither of `problem` and `cases`, a problem without cases in scope, a signature that does
/// not fit the cases.
#[proc_macro_attribute]
pub fn joule_bench(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_or_keep(bench::expand, attr, item)
}

/// Declares the cases of a problem: `fn() -> Vec<Case<Input, Output>>`.
///
/// ```ignore
/// #[joule_cases(problem = "sort")]
/// fn cases() -> Vec<Case<Vec<u32>, Vec<u32>>> {
///     vec![Case::new("small", vec![3, 1, 2], vec![1, 2, 3])]
/// }
/// ```
///
/// The function is kept as written and also defines a hidden type named after the problem,
/// which `#[joule_bench(problem = "…")]` candidates refer to; the type has the function's
/// visibility. A problem has exactly one case set: two in one module fail to compile, two in
/// different modules are reported when the harness starts.
#[proc_macro_attribute]
pub fn joule_cases(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_or_keep(cases::expand, attr, item)
}

/// On an error, emits the error and the item unchanged, so that code calling the function does
/// not pile further errors on the one that matters.
fn expand_or_keep(
    expand: fn(
        proc_macro2::TokenStream,
        proc_macro2::TokenStream,
    ) -> syn::Result<proc_macro2::TokenStream>,
    attr: TokenStream,
    item: TokenStream,
) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    match expand(attr.into(), item.clone()) {
        Ok(tokens) => tokens.into(),
        Err(e) => {
            let mut tokens = e.into_compile_error();
            tokens.extend(item);
            tokens.into()
        }
    }
}
