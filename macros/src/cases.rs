//! `#[joule_cases(problem = "…")]`: keeps the function and gives the problem its type and its
//! registry entry.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{GenericArgument, ItemFn, PathArguments, ReturnType, Signature, Type};

use crate::args::{self, Errors};
use crate::problem;

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let problem = args::parse_cases(attr);
    let func: ItemFn = syn::parse2(item).map_err(|e| {
        syn::Error::new(
            e.span(),
            "#[joule_cases] goes on a function returning `Vec<Case<Input, Output>>`",
        )
    })?;
    let (problem, (input, output)) = args::both(problem, check_function(&func.sig))?;

    let ty = problem::type_ident(&problem);
    let name = &problem.name;
    let vis = &func.vis;
    let function = &func.sig.ident;
    // The type and its impl carry the problem string's span: a second case set for the problem
    // is reported there, not on the whole attribute.
    let span = problem.span;
    let function_name = function.to_string();
    let line = quote_spanned!(function.span()=> ::core::line!());
    let problem_type = quote_spanned! {span=>
        #[doc(hidden)]
        // Only ever named as a type parameter, never built: `dead_code` would call it unused.
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #ty;

        impl ::jouletrace::__private::Problem for #ty {
            type Input = #input;
            type Output = #output;
            const NAME: &'static str = #name;
            fn cases() -> ::std::vec::Vec<::jouletrace::__private::Case<#input, #output>> {
                #function()
            }
        }
    };
    Ok(quote! {
        #func

        #problem_type

        ::jouletrace::__private::inventory::submit! {
            ::jouletrace::__private::ProblemEntry {
                problem: #name,
                function: #function_name,
                file: ::core::file!(),
                line: #line,
            }
        }
    })
}

/// The case types, once the function is known to be callable as `fn() -> Vec<Case<I, O>>`.
fn check_function(sig: &Signature) -> syn::Result<(&Type, &Type)> {
    let mut errors = Errors::default();
    if !sig.inputs.is_empty() {
        errors.at(sig.inputs.span(), "a cases function takes no arguments");
    }
    if !sig.generics.params.is_empty() {
        errors.at(sig.generics.span(), "a cases function cannot be generic");
    }
    if let Some(a) = &sig.asyncness {
        errors.at(a.span(), "a cases function cannot be `async`");
    }
    if let Some(u) = &sig.unsafety {
        errors.at(u.span(), "a cases function cannot be an `unsafe fn`");
    }
    let types = case_types(&sig.output).ok_or_else(|| {
        let span = match &sig.output {
            ReturnType::Default => sig.ident.span(),
            ReturnType::Type(_, ty) => ty.span(),
        };
        syn::Error::new(
            span,
            "a cases function returns `Vec<Case<Input, Output>>` (written out, not through an alias)",
        )
    });
    args::both(errors.finish(), types).map(|((), t)| t)
}

/// `(Input, Output)` from a return type written `Vec<Case<Input, Output>>` (paths allowed).
fn case_types(output: &ReturnType) -> Option<(&Type, &Type)> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let [case] = generic_types(ty, "Vec")?[..] else {
        return None;
    };
    let [input, output] = generic_types(case, "Case")?[..] else {
        return None;
    };
    Some((input, output))
}

/// The type arguments of `ty` when its path ends in `name<…>`.
fn generic_types<'t>(ty: &'t Type, name: &str) -> Option<Vec<&'t Type>> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    args.args
        .iter()
        .map(|a| match a {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        })
        .collect()
}
