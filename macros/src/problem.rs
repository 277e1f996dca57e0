//! The hidden type that ties a problem's name to its case types.
//!
//! `#[joule_cases(problem = "sort")]` defines a type named after the problem, and
//! `#[joule_bench(problem = "sort")]` names it, so that the compiler itself checks that the
//! problem has cases in scope, that it has only one case set per module, and that every
//! candidate's signature fits the case types.

use proc_macro2::{Ident, TokenStream};
use quote::quote_spanned;

use crate::args::ProblemName;

/// The type's identifier, carrying the span of the problem string so that "cannot find type"
/// and "defined multiple times" point at the attribute that caused them.
///
/// Problem names are letters, digits, `_` and `-` (checked while parsing); `-` becomes `_`, so
/// `n-body` and `n_body` name one type: in one module they clash at compile time, and a candidate
/// that spells its problem differently from the cases is stopped by [`same_spelling`].
///
/// The identifier reads as what is missing when it cannot be found (`cannot find type
/// `joule_cases_for_problem_sort_…``), and ends in a hash of the name: without it, a misspelt
/// problem would draw rustc's "a struct with a similar name exists" with a suggestion to write
/// another problem's hidden type into the attribute.
pub(crate) fn type_ident(problem: &ProblemName) -> Ident {
    let key = problem.name.replace('-', "_");
    Ident::new(
        &format!("joule_cases_for_problem_{key}_{:032x}", fnv1a_128(&key)),
        problem.span,
    )
}

/// 128-bit FNV-1a: stable across compilers and platforms, which `DefaultHasher` is not.
fn fnv1a_128(text: &str) -> u128 {
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in text.bytes() {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    h
}

/// A constant that fails to compile, at the candidate's problem string, when the problem's
/// `#[joule_cases]` spells the name differently (`fingerprint_eq` against `fingerprint-eq`).
/// Both resolve to one type, but the registry keys problems by their exact name: without this
/// the candidate would silently become a one-candidate problem of its own.
pub(crate) fn same_spelling(problem: &ProblemName, ty: &Ident) -> TokenStream {
    let name = &problem.name;
    let message = format!(
        "#[joule_bench(problem = \"{name}\")]: the #[joule_cases] of this problem spells its name \
         differently (`-` and `_` are not interchangeable in problem names); write the name \
         exactly as the #[joule_cases] does"
    );
    quote_spanned! {problem.span=>
        const _: () = ::core::assert!(
            ::jouletrace::__private::same_name(
                <#ty as ::jouletrace::__private::Problem>::NAME,
                #name,
            ),
            #message
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_differing_in_punctuation_share_a_type_and_others_do_not_look_alike() {
        let ident = |name: &str| {
            type_ident(&ProblemName {
                name: name.into(),
                span: proc_macro2::Span::call_site(),
            })
            .to_string()
        };
        assert_eq!(ident("fingerprint-eq"), ident("fingerprint_eq"));
        let (a, b) = (ident("fingerprint_eq"), ident("fingerprint_eqq"));
        assert!(
            a.starts_with("joule_cases_for_problem_fingerprint_eq_"),
            "{a}"
        );
        // rustc suggests a "similar name" within a third of the length in edits.
        let differing = a.chars().rev().zip(b.chars().rev()).filter(|(x, y)| x != y);
        assert!(differing.count() > b.len() / 3, "{a} vs {b}");
    }
}
