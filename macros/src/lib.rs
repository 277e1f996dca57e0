//! `#[joule_bench]` and `#[joule_cases]` (in progress).
use proc_macro::TokenStream;

#[proc_macro_attribute]
pub fn joule_bench(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}

#[proc_macro_attribute]
pub fn joule_cases(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}
