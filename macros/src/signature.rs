//! What a candidate's signature says about its input, and the call that adapts one case input
//! (a value, or a tuple for several arguments) to the function's parameters.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ReturnType, Signature, Type};

use crate::args::Errors;

pub(crate) struct Param {
    pub(crate) ty: Type,
    /// `&T`: the case holds the owned value and the call lends it.
    pub(crate) by_ref: bool,
}

pub(crate) struct Candidate {
    pub(crate) ident: Ident,
    pub(crate) params: Vec<Param>,
    /// `None` for a function without `->` (it returns `()`).
    pub(crate) output: Option<Type>,
    pub(crate) params_span: Span,
    pub(crate) output_span: Span,
}

/// Rejects what cannot be called as `fn(Input) -> Output`, each with a reason at its span.
pub(crate) fn candidate(sig: &Signature, what: &str) -> syn::Result<Candidate> {
    let mut errors = Errors::default();
    if let Some(a) = &sig.asyncness {
        errors.at(
            a.span(),
            format!(
                "a {what} cannot be `async`: measure a synchronous function that drives the future"
            ),
        );
    }
    if let Some(u) = &sig.unsafety {
        errors.at(
            u.span(),
            format!("a {what} cannot be an `unsafe fn`: wrap the call in a safe function that says why it is sound"),
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.at(
            sig.generics.span(),
            format!("a {what} cannot be generic: make a concrete wrapper (`fn sort_u32(v: Vec<u32>) -> Vec<u32> {{ sort(v) }}`)"),
        );
    }
    if let Some(v) = &sig.variadic {
        errors.at(v.span(), format!("a {what} cannot be variadic"));
    }
    let mut params = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => errors.at(
                r.span(),
                format!("a {what} is a free function, not a method"),
            ),
            FnArg::Typed(pt) => match &*pt.ty {
                Type::Reference(r) if r.mutability.is_some() => errors.at(
                    pt.ty.span(),
                    format!(
                        "a {what} cannot take `&mut`: take the input by value (`mut v: Vec<T>`) \
                         and return the result"
                    ),
                ),
                Type::ImplTrait(_) => errors.at(
                    pt.ty.span(),
                    format!("a {what} cannot take `impl Trait`: name the concrete type"),
                ),
                Type::Reference(_) => params.push(Param {
                    ty: (*pt.ty).clone(),
                    by_ref: true,
                }),
                _ => params.push(Param {
                    ty: (*pt.ty).clone(),
                    by_ref: false,
                }),
            },
        }
    }
    errors.finish()?;
    let (output, output_span) = match &sig.output {
        ReturnType::Default => (None, sig.ident.span()),
        ReturnType::Type(_, ty) => (Some((**ty).clone()), ty.span()),
    };
    Ok(Candidate {
        ident: sig.ident.clone(),
        params,
        output,
        params_span: sig.paren_token.span.join(),
        output_span,
    })
}

impl Candidate {
    /// A non-capturing closure `|input| f(…)` that coerces to `fn(Input) -> Output`.
    ///
    /// Each argument carries the span of its parameter's type and the call the span of the
    /// return type, so that a case type that does not fit is reported at the parameter or
    /// return type that disagrees with it.
    pub(crate) fn call_closure(&self) -> TokenStream {
        // Quoted tokens take the span of `quote_spanned!`, interpolated ones keep their own: the
        // argument names are built with their parameter's span.
        let names: Vec<Ident> = self
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| Ident::new(&format!("__jouletrace_arg{i}"), p.ty.span()))
            .collect();
        let args = self.params.iter().zip(&names).map(|(p, name)| {
            if p.by_ref {
                quote_spanned!(p.ty.span()=> &#name)
            } else {
                quote!(#name)
            }
        });
        let pattern = match names.as_slice() {
            [] => quote_spanned!(self.params_span=> ()),
            [one] => quote!(#one),
            many => quote_spanned!(self.params_span=> (#(#many),*)),
        };
        let ident = &self.ident;
        // The result passes through a match arm carrying the return type's span, so that an
        // output type that does not fit is reported there rather than on the whole signature.
        let out = Ident::new("__jouletrace_output", self.output_span);
        quote! {
            |#pattern| match #ident(#(#args),*) { #out => #out }
        }
    }

    /// For a candidate whose parameters are all shared references, a closure `|&input| f(…)` that
    /// coerces to `fn(&Input) -> Output`: measuring it then needs no fresh inputs. `None` when
    /// any parameter is taken by value (or there is none).
    pub(crate) fn borrow_closure(&self) -> Option<TokenStream> {
        if self.params.is_empty() || !self.params.iter().all(|p| p.by_ref) {
            return None;
        }
        // With one parameter, the argument carries that parameter type's span, as in the
        // by-value closure: a mismatch then reports the same error at the same place, which
        // rustc shows once.
        let span = match self.params.as_slice() {
            [one] => one.ty.span(),
            _ => self.params_span,
        };
        let input = Ident::new("__jouletrace_input", span);
        let args: Vec<TokenStream> = match self.params.len() {
            1 => vec![quote!(#input)],
            // Every token of `&input.i` carries the parameter type's span, the index too: a
            // token left at the call site would stretch the expression over the attribute, and
            // a mismatch would be reported twice, at the parameter and at the attribute
            // (issue 12). Spanned alike, the two closures' errors are one error to rustc.
            n => (0..n)
                .map(|i| {
                    let span = self.params[i].ty.span();
                    let input = Ident::new("__jouletrace_input", span);
                    let index = syn::Index {
                        index: i as u32,
                        span,
                    };
                    quote_spanned!(span=> &#input.#index)
                })
                .collect(),
        };
        let ident = &self.ident;
        let out = Ident::new("__jouletrace_output", self.output_span);
        Some(quote! {
            |#input| match #ident(#(#args),*) { #out => #out }
        })
    }

    /// The input type of inline cases: the parameter type, or the tuple of them; references
    /// become `&'static` since inline inputs are literals.
    pub(crate) fn inline_input_type(&self) -> TokenStream {
        let tys: Vec<Type> = self
            .params
            .iter()
            .map(|p| {
                let mut ty = p.ty.clone();
                make_static(&mut ty);
                ty
            })
            .collect();
        match tys.as_slice() {
            [one] => quote!(#one),
            many => quote!((#(#many,)*)),
        }
    }

    pub(crate) fn output_type(&self) -> TokenStream {
        match &self.output {
            Some(ty) => quote!(#ty),
            None => quote!(()),
        }
    }
}

/// Gives every elided or `'_` lifetime in `ty` the `'static` lifetime.
fn make_static(ty: &mut Type) {
    let fill = |lt: &mut Option<syn::Lifetime>| match lt {
        None => *lt = Some(syn::Lifetime::new("'static", Span::call_site())),
        Some(l) if l.ident == "_" => *lt = Some(syn::Lifetime::new("'static", l.span())),
        Some(_) => {}
    };
    match ty {
        Type::Reference(r) => {
            fill(&mut r.lifetime);
            make_static(&mut r.elem);
        }
        Type::Slice(s) => make_static(&mut s.elem),
        Type::Array(a) => make_static(&mut a.elem),
        Type::Paren(p) => make_static(&mut p.elem),
        Type::Group(g) => make_static(&mut g.elem),
        Type::Tuple(t) => t.elems.iter_mut().for_each(make_static),
        Type::Path(p) => {
            for seg in &mut p.path.segments {
                if let syn::PathArguments::AngleBracketed(a) = &mut seg.arguments {
                    for arg in &mut a.args {
                        match arg {
                            syn::GenericArgument::Type(t) => make_static(t),
                            syn::GenericArgument::Lifetime(l) if l.ident == "_" => {
                                *l = syn::Lifetime::new("'static", l.span());
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::make_static;
    use syn::{Type, parse_quote};

    #[test]
    fn elided_lifetimes_become_static() {
        let cases: [(Type, Type); 3] = [
            (parse_quote!(&[&str]), parse_quote!(&'static [&'static str])),
            (
                parse_quote!(Option<Cow<'_, str>>),
                parse_quote!(Option<Cow<'static, str>>),
            ),
            (
                parse_quote!((&'a u8, Vec<u8>)),
                parse_quote!((&'a u8, Vec<u8>)),
            ),
        ];
        for (mut ty, expected) in cases {
            make_static(&mut ty);
            assert_eq!(ty, expected);
        }
    }
}
