//! The hidden type that ties a problem's name to its case types.
//!
//! `#[joule_cases(problem = "sort")]` defines `__jouletrace_problem_sort`, and
//! `#[joule_bench(problem = "sort")]` names it, so that the compiler itself checks that the
//! problem has cases in scope, that it has only one case set per module, and that every
//! candidate's signature fits the case types.

use proc_macro2::Ident;

use crate::args::ProblemName;

/// The type's identifier, carrying the span of the problem string so that "cannot find type"
/// and "defined multiple times" point at the attribute that caused them.
///
/// Problem names are letters, digits, `_` and `-` (checked while parsing); `-` becomes `_`, so
/// `n-body` and `n_body` in one module clash at compile time rather than mix silently.
pub(crate) fn type_ident(problem: &ProblemName) -> Ident {
    Ident::new(
        &format!("__jouletrace_problem_{}", problem.name.replace('-', "_")),
        problem.span,
    )
}
