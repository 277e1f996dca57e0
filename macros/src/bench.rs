//! `#[joule_bench(…)]`: keeps the function and registers it as a candidate.

use proc_macro2::{Literal, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ItemFn;
use syn::ext::IdentExt;

use crate::args::{self, BenchArgs, CaseSource, Compare, Options};
use crate::problem;
use crate::signature::{self, Candidate};

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args = args::parse_bench(attr);
    let func: ItemFn = syn::parse2(item)
        .map_err(|e| syn::Error::new(e.span(), "#[joule_bench] goes on a function"))?;
    let candidate = signature::candidate(&func.sig, "candidate");
    let (args, candidate) = args::both(args, candidate)?;
    let BenchArgs {
        source,
        compare,
        options,
    } = args;

    let name = candidate.ident.unraw().to_string();
    let (compare_fn, validator) = compare_tokens(&compare, &candidate);
    let call = candidate.call_closure();
    let borrowing = candidate
        .borrow_closure()
        .map(|b| quote!(.borrowing(#b)))
        .unwrap_or_default();
    let mut extra = TokenStream::new();
    let (problem_name, imp) = match source {
        CaseSource::Problem(p) => {
            let ty = problem::type_ident(&p);
            extra = problem::same_spelling(&p, &ty);
            (
                p.name,
                quote! {
                    ::jouletrace::__private::for_problem::<#ty>(#call, #compare_fn, #validator)#borrowing
                },
            )
        }
        CaseSource::Function(path) => (
            name.clone(),
            quote! {
                ::jouletrace::__private::typed(#path, #call, #compare_fn, #validator)#borrowing
            },
        ),
        CaseSource::Inline(cases) => {
            let cases_fn = format_ident!("__jouletrace_cases_{}", name);
            let input = candidate.inline_input_type();
            let output = candidate.output_type();
            let built = cases.iter().map(|c| {
                let (id, input, expected) = (&c.id, &c.input, &c.expected);
                quote!(::jouletrace::__private::Case::new(#id, #input, #expected))
            });
            extra = quote! {
                #[doc(hidden)]
                fn #cases_fn() -> ::std::vec::Vec<::jouletrace::__private::Case<#input, #output>> {
                    ::std::vec![#(#built),*]
                }
            };
            (
                name.clone(),
                quote! {
                    ::jouletrace::__private::typed(#cases_fn, #call, #compare_fn, #validator)#borrowing
                },
            )
        }
    };

    let options = options_tokens(&options);
    let line = quote_spanned!(candidate.ident.span()=> ::core::line!());
    Ok(quote! {
        #func

        #extra

        ::jouletrace::__private::inventory::submit! {
            ::jouletrace::__private::CandidateEntry {
                problem: #problem_name,
                name: #name,
                module_path: ::core::module_path!(),
                file: ::core::file!(),
                line: #line,
                options: #options,
                imp: &#imp,
            }
        }
    })
}

/// The comparison function and whether it is a custom validator.
fn compare_tokens(compare: &Compare, candidate: &Candidate) -> (TokenStream, bool) {
    match compare {
        // Spanned at the return type: an output without `PartialEq` is reported there.
        Compare::Eq => (
            quote_spanned!(candidate.output_span=> ::jouletrace::__private::cmp_eq),
            false,
        ),
        Compare::Tolerance { value, span } => {
            let tol = Literal::f64_suffixed(*value);
            (
                quote_spanned! {*span=>
                    |_, actual, expected| ::jouletrace::__private::cmp_tolerance(actual, expected, #tol)
                },
                false,
            )
        }
        Compare::Check(path) => {
            let span = syn::spanned::Spanned::span(path);
            (
                quote_spanned! {span=>
                    |input, actual, _| #path(input, actual)
                },
                true,
            )
        }
    }
}

/// The options as a constant expression that sets only what the attribute gave, so that fields
/// added to `CandidateOptions` later keep their defaults (a struct literal with `..DEFAULT` would
/// draw clippy's `needless_update` in user code whenever every field is given).
fn options_tokens(o: &Options) -> TokenStream {
    let some = |v: TokenStream| quote!(::core::option::Option::Some(#v));
    let mut sets = Vec::new();
    if let Some(ms) = o.timeout_ms {
        let v = some(quote!(::jouletrace::__private::Duration::from_millis(#ms)));
        sets.push(quote!(options.timeout = #v;));
    }
    if let Some(mb) = o.memory_limit_mb {
        let v = some(Literal::u64_suffixed(mb).into_token_stream());
        sets.push(quote!(options.memory_limit_mb = #v;));
    }
    if let Some(n) = o.trials {
        let v = some(Literal::u32_suffixed(n).into_token_stream());
        sets.push(quote!(options.trials = #v;));
    }
    if let Some(n) = o.warmup {
        let v = some(Literal::u32_suffixed(n).into_token_stream());
        sets.push(quote!(options.warmup = #v;));
    }
    if let Some(t) = o.threshold {
        let v = some(Literal::f64_suffixed(t).into_token_stream());
        sets.push(quote!(options.threshold = #v;));
    }
    if o.ignore {
        sets.push(quote!(options.ignore = true;));
    }
    if sets.is_empty() {
        return quote!(::jouletrace::__private::CandidateOptions::DEFAULT);
    }
    quote! {{
        let mut options = ::jouletrace::__private::CandidateOptions::DEFAULT;
        #(#sets)*
        options
    }}
}
