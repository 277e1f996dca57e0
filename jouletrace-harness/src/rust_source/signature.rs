//! The entry function of a Rust submission: found, parsed (with `syn`) and checked against the
//! types JSON cases can be converted to.
//!
//! Supported, at any depth: the integers (`i8`…`i128`, `u8`…`u128`, `isize`, `usize`), `f32`,
//! `f64`, `bool`, `char`, `String`, `Vec<T>`, tuples (up to 12 elements as arguments, 8 as a
//! result), `Option<T>`, `HashMap<String, T>` and `BTreeMap<String, T>`; and as a parameter only
//! (top level), shared references: `&[T]`, `&str`, `&T`. A function without `->` returns `()`.
//! The entry is a free function at the top of the file, or an associated function without
//! `self` in an inherent `impl` at the top (`impl Solution { pub fn two_sum(…) }`, as LeetCode
//! writes them). Everything else is refused with the reason, before anything is built.

use std::fmt;

use quote::ToTokens;
use syn::{FnArg, GenericArgument, Item, Pat, PathArguments, ReturnType, Type};

/// The most parameters a case can fill (serde's tuple limit is 16; a margin for the glue).
const MAX_PARAMS: usize = 12;
/// The largest tuple a candidate may return (the comparison's `ToVal` impls).
const MAX_RESULT_TUPLE: usize = 8;

/// A value type a case's JSON converts to and from.
///
/// No variant is named like a std type (`Vec`, `String`, `Option`): rustc prints a type by its
/// short name only while no other item in the crate graph has that name, so a variant `Vec`
/// here would turn every `Vec<i32>` in our users' compile errors into `std::vec::Vec<i32>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ty {
    /// `i8`…`i128`, `u8`…`u128`, `isize`, `usize`, `f32`, `f64`, `bool`, `char` (the name).
    Primitive(&'static str),
    /// `String` (or `&str` in a parameter).
    Text,
    Unit,
    /// `Vec<T>` (or `&[T]` in a parameter).
    List(Box<Ty>),
    /// `Option<T>`.
    Maybe(Box<Ty>),
    Tuple(Vec<Ty>),
    /// `HashMap<String, T>` (`hash: true`) or `BTreeMap<String, T>`.
    Map {
        hash: bool,
        value: Box<Ty>,
    },
}

const PRIMITIVES: [&str; 16] = [
    "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize", "f32",
    "f64", "bool", "char",
];

impl Ty {
    /// The type in generated code, by absolute paths (a submission's own `Vec` or `String`
    /// cannot stand in for std's).
    pub fn rust(&self) -> String {
        match self {
            Ty::Primitive(p) => format!("::core::primitive::{p}"),
            Ty::Text => "::std::string::String".into(),
            Ty::Unit => "()".into(),
            Ty::List(t) => format!("::std::vec::Vec<{}>", t.rust()),
            Ty::Maybe(t) => format!("::core::option::Option<{}>", t.rust()),
            Ty::Tuple(ts) => format!(
                "({})",
                ts.iter().map(|t| t.rust() + ",").collect::<String>()
            ),
            Ty::Map { hash, value } => format!(
                "::std::collections::{}<::std::string::String, {}>",
                if *hash { "HashMap" } else { "BTreeMap" },
                value.rust()
            ),
        }
    }
}

impl fmt::Display for Ty {
    /// As a person writes it: `Vec<i64>`, `(i32, String)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Primitive(p) => f.write_str(p),
            Ty::Text => f.write_str("String"),
            Ty::Unit => f.write_str("()"),
            Ty::List(t) => write!(f, "Vec<{t}>"),
            Ty::Maybe(t) => write!(f, "Option<{t}>"),
            Ty::Tuple(ts) if ts.len() == 1 => write!(f, "({},)", ts[0]),
            Ty::Tuple(ts) => {
                let parts: Vec<String> = ts.iter().map(ToString::to_string).collect();
                write!(f, "({})", parts.join(", "))
            }
            Ty::Map { hash, value } => write!(
                f,
                "{}<String, {value}>",
                if *hash { "HashMap" } else { "BTreeMap" }
            ),
        }
    }
}

/// How a parameter takes its argument. The case always holds the owned value ([`Param::ty`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    Value,
    /// `&T`.
    Ref,
    /// `&[T]`: the case holds a `Vec<T>`.
    Slice,
    /// `&str`: the case holds a `String`.
    Str,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// The binding's name (`nums` in `mut nums: Vec<i32>`); `None` for a pattern, which inputs
    /// given as an object cannot name.
    pub name: Option<String>,
    /// The owned type the case holds.
    pub ty: Ty,
    pub pass: Pass,
}

impl Param {
    /// The parameter's type as the generated wrapper declares it.
    pub fn written(&self) -> String {
        match (self.pass, &self.ty) {
            (Pass::Value, t) => t.rust(),
            (Pass::Ref, t) => format!("&{}", t.rust()),
            (Pass::Slice, Ty::List(t)) => format!("&[{}]", t.rust()),
            (Pass::Str, _) => "&::core::primitive::str".into(),
            (Pass::Slice, t) => format!("&[{}]", t.rust()),
        }
    }

    fn shown(&self) -> String {
        let ty = match (self.pass, &self.ty) {
            (Pass::Value, t) => t.to_string(),
            (Pass::Ref, t) => format!("&{t}"),
            (Pass::Slice, Ty::List(t)) => format!("&[{t}]"),
            (Pass::Slice, t) => format!("&[{t}]"),
            (Pass::Str, _) => "&str".into(),
        };
        match &self.name {
            Some(n) => format!("{n}: {ty}"),
            None => ty,
        }
    }
}

/// Where the entry function lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// A free function at the top of the file.
    Free,
    /// An associated function of this type (`Solution`), as written.
    Type(String),
}

/// The entry function of a submission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub entry: String,
    pub owner: Owner,
    pub params: Vec<Param>,
    pub output: Ty,
}

impl Signature {
    /// The path the wrapper calls: `solve`, or `Solution::solve`.
    pub fn call_path(&self) -> String {
        match &self.owner {
            Owner::Free => self.entry.clone(),
            Owner::Type(t) => format!("<{t}>::{}", self.entry),
        }
    }

    /// The parameter names, in order (`_N` for a pattern).
    pub fn param_names(&self) -> Vec<String> {
        self.params
            .iter()
            .enumerate()
            .map(|(i, p)| p.name.clone().unwrap_or_else(|| format!("_{i}")))
            .collect()
    }

    /// The tuple of the arguments' owned types: a case's input.
    pub fn input_type(&self) -> Ty {
        Ty::Tuple(self.params.iter().map(|p| p.ty.clone()).collect())
    }
}

impl fmt::Display for Signature {
    /// `solve(nums: &[i64], k: i64) -> i64`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let params: Vec<String> = self.params.iter().map(Param::shown).collect();
        let owner = match &self.owner {
            Owner::Free => String::new(),
            Owner::Type(t) => format!("{t}::"),
        };
        write!(f, "{owner}{}({})", self.entry, params.join(", "))?;
        if self.output != Ty::Unit {
            write!(f, " -> {}", self.output)?;
        }
        Ok(())
    }
}

/// Why a submission's entry function cannot be called with JSON cases.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Not Rust that parses (the caller asks the compiler for its own, better, message).
    #[error("the source does not parse: {0}")]
    Syntax(String),
    #[error("function `{entry}` not found at the top of the file{}", defined_list(.defined))]
    NotFound { entry: String, defined: Vec<String> },
    #[error("`{entry}` is defined more than once at the top of the file")]
    Ambiguous { entry: String },
    #[error("`{entry}` cannot be measured: {reason}")]
    Unsupported { entry: String, reason: String },
}

fn defined_list(defined: &[String]) -> String {
    if defined.is_empty() {
        "; it defines no function".into()
    } else {
        format!("; defined: {}", defined.join(", "))
    }
}

/// Finds `entry` in `code` and checks its signature.
pub fn parse(code: &str, entry: &str) -> Result<Signature, SignatureError> {
    let file = syn::parse_file(code).map_err(|e| SignatureError::Syntax(e.to_string()))?;
    let mut found = Vec::new();
    let mut defined = Vec::new();
    for item in &file.items {
        match item {
            Item::Fn(f) => {
                defined.push(f.sig.ident.to_string());
                if f.sig.ident == entry {
                    found.push((Owner::Free, &f.sig));
                }
            }
            Item::Impl(imp) if imp.trait_.is_none() => {
                let owner = tokens(&*imp.self_ty);
                for it in &imp.items {
                    if let syn::ImplItem::Fn(f) = it {
                        defined.push(format!("{owner}::{}", f.sig.ident));
                        if f.sig.ident == entry {
                            found.push((Owner::Type(owner.clone()), &f.sig));
                        }
                    }
                }
                if found.iter().any(|(o, _)| *o == Owner::Type(owner.clone()))
                    && !imp.generics.params.is_empty()
                {
                    return Err(unsupported(entry, "its `impl` block is generic"));
                }
            }
            _ => {}
        }
    }
    match found.as_slice() {
        [] => Err(SignatureError::NotFound {
            entry: entry.to_owned(),
            defined,
        }),
        [(owner, sig)] => check(entry, owner.clone(), sig),
        _ => Err(SignatureError::Ambiguous {
            entry: entry.to_owned(),
        }),
    }
}

/// Tokens as a person writes them (`Vec<&'static str>`, not `Vec < & 'static str >`).
fn tokens(t: &impl ToTokens) -> String {
    let mut s = t.to_token_stream().to_string();
    for (from, to) in [
        (" <", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ,", ","),
        ("& ", "&"),
        (" ::", "::"),
        (":: ", "::"),
        ("( ", "("),
        (" )", ")"),
        (" ;", ";"),
    ] {
        s = s.replace(from, to);
    }
    s
}

fn unsupported(entry: &str, reason: impl Into<String>) -> SignatureError {
    SignatureError::Unsupported {
        entry: entry.to_owned(),
        reason: reason.into(),
    }
}

fn check(entry: &str, owner: Owner, sig: &syn::Signature) -> Result<Signature, SignatureError> {
    let refuse = |reason: String| Err(unsupported(entry, reason));
    if sig.asyncness.is_some() {
        return refuse("it is `async`".into());
    }
    if sig.unsafety.is_some() {
        return refuse("it is an `unsafe fn`".into());
    }
    if sig.variadic.is_some() {
        return refuse("it is variadic".into());
    }
    if sig
        .generics
        .params
        .iter()
        .any(|p| !matches!(p, syn::GenericParam::Lifetime(_)))
        || sig.generics.where_clause.is_some()
    {
        return refuse("it is generic: give it concrete types".into());
    }
    if sig.inputs.len() > MAX_PARAMS {
        return refuse(format!(
            "it takes {} parameters; at most {MAX_PARAMS} are supported",
            sig.inputs.len()
        ));
    }
    let mut params = Vec::new();
    for (i, input) in sig.inputs.iter().enumerate() {
        let FnArg::Typed(pt) = input else {
            return refuse("it takes `self`: make it a free or associated function".into());
        };
        let name = match &*pt.pat {
            Pat::Ident(p) if p.subpat.is_none() => Some(p.ident.to_string()),
            _ => None,
        };
        let label = name.clone().unwrap_or_else(|| format!("#{}", i + 1));
        let param = param(&pt.ty).map_err(|why| {
            unsupported(
                entry,
                format!("parameter `{label}: {}`: {why}", tokens(&*pt.ty)),
            )
        })?;
        params.push(Param { name, ..param });
    }
    let output = match &sig.output {
        ReturnType::Default => Ty::Unit,
        ReturnType::Type(_, t) => value(t, MAX_RESULT_TUPLE)
            .map_err(|why| unsupported(entry, format!("its result `{}`: {why}", tokens(&**t))))?,
    };
    Ok(Signature {
        entry: entry.to_owned(),
        owner,
        params,
        output,
    })
}

/// A parameter's type: a value, or a shared reference at the top.
fn param(ty: &Type) -> Result<Param, String> {
    let ty = unwrap(ty);
    let Type::Reference(r) = ty else {
        return Ok(Param {
            name: None,
            ty: value(ty, MAX_PARAMS)?,
            pass: Pass::Value,
        });
    };
    if r.mutability.is_some() {
        return Err("`&mut` is not supported: take the value (`mut v: Vec<T>`) instead".into());
    }
    let (ty, pass) = match unwrap(&r.elem) {
        Type::Slice(s) => (Ty::List(Box::new(value(&s.elem, MAX_PARAMS)?)), Pass::Slice),
        Type::Path(p) if p.qself.is_none() && p.path.is_ident("str") => (Ty::Text, Pass::Str),
        other => (value(other, MAX_PARAMS)?, Pass::Ref),
    };
    Ok(Param {
        name: None,
        ty,
        pass,
    })
}

fn unwrap(ty: &Type) -> &Type {
    match ty {
        Type::Paren(p) => unwrap(&p.elem),
        Type::Group(g) => unwrap(&g.elem),
        _ => ty,
    }
}

/// Path prefixes under which std's types may be named (`std::collections::HashMap`).
const STD_SEGMENTS: [&str; 10] = [
    "std",
    "core",
    "alloc",
    "collections",
    "vec",
    "string",
    "option",
    "primitive",
    "hash_map",
    "btree_map",
];

/// An owned value type.
fn value(ty: &Type, max_tuple: usize) -> Result<Ty, String> {
    match unwrap(ty) {
        Type::Tuple(t) if t.elems.is_empty() => Ok(Ty::Unit),
        Type::Tuple(t) if t.elems.len() > max_tuple => Err(format!(
            "tuples of more than {max_tuple} elements are not supported here"
        )),
        Type::Tuple(t) => Ok(Ty::Tuple(
            t.elems
                .iter()
                .map(|e| value(e, MAX_RESULT_TUPLE))
                .collect::<Result<_, _>>()?,
        )),
        Type::Reference(_) => Err(
            "references are supported only as a parameter's own type (`&[T]`, `&str`, `&T`); \
             nested or returned, use an owned type"
                .into(),
        ),
        Type::Path(p) if p.qself.is_none() => {
            let segments: Vec<&syn::PathSegment> = p.path.segments.iter().collect();
            let (last, prefix) = segments.split_last().ok_or("an empty path")?;
            if prefix
                .iter()
                .any(|s| !STD_SEGMENTS.contains(&s.ident.to_string().as_str()))
            {
                return Err(unsupported_type());
            }
            let name = last.ident.to_string();
            let args = type_args(&last.arguments)?;
            match (name.as_str(), args.as_slice()) {
                (p, []) if PRIMITIVES.contains(&p) => Ok(Ty::Primitive(
                    PRIMITIVES
                        .iter()
                        .find(|q| **q == p)
                        .copied()
                        .unwrap_or("i64"),
                )),
                ("String", []) => Ok(Ty::Text),
                ("Vec", [t]) => Ok(Ty::List(Box::new(value(t, MAX_RESULT_TUPLE)?))),
                ("Option", [t]) => Ok(Ty::Maybe(Box::new(value(t, MAX_RESULT_TUPLE)?))),
                ("HashMap" | "BTreeMap", [k, v]) => {
                    if value(k, MAX_RESULT_TUPLE)? != Ty::Text {
                        return Err(
                            "map keys must be `String` (JSON object keys are strings)".into()
                        );
                    }
                    Ok(Ty::Map {
                        hash: name == "HashMap",
                        value: Box::new(value(v, MAX_RESULT_TUPLE)?),
                    })
                }
                _ => Err(unsupported_type()),
            }
        }
        _ => Err(unsupported_type()),
    }
}

fn unsupported_type() -> String {
    "not a supported type (integers, floats, bool, char, String, Vec<T>, tuples, Option<T>, \
     HashMap<String, T>, BTreeMap<String, T>; &[T], &str and &T as parameters)"
        .into()
}

fn type_args(args: &PathArguments) -> Result<Vec<&Type>, String> {
    match args {
        PathArguments::None => Ok(Vec::new()),
        PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .map(|g| match g {
                GenericArgument::Type(t) => Ok(t),
                _ => Err(unsupported_type()),
            })
            .collect(),
        PathArguments::Parenthesized(_) => Err(unsupported_type()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(code: &str) -> Result<Signature, SignatureError> {
        parse(code, "solve")
    }

    #[test]
    fn supported_signatures_parse_to_owned_argument_types() {
        let s = sig("use std::collections::HashMap;\n\
                     pub fn solve(mut nums: Vec<i32>, k: &[i64], name: &str, m: &HashMap<String, Vec<f64>>, \
                                  o: Option<(u8, char)>, (a, b): (bool, u128)) -> std::collections::BTreeMap<String, Option<String>> { todo!() }")
            .unwrap();
        assert_eq!(
            s.to_string(),
            "solve(nums: Vec<i32>, k: &[i64], name: &str, m: &HashMap<String, Vec<f64>>, \
             o: Option<(u8, char)>, (bool, u128)) -> BTreeMap<String, Option<String>>"
        );
        assert_eq!(s.owner, Owner::Free);
        assert_eq!(s.param_names(), ["nums", "k", "name", "m", "o", "_5"]);
        assert_eq!(s.params[1].written(), "&[::core::primitive::i64]");
        assert_eq!(s.params[2].written(), "&::core::primitive::str");
        assert_eq!(
            s.input_type().rust(),
            "(::std::vec::Vec<::core::primitive::i32>,::std::vec::Vec<::core::primitive::i64>,\
             ::std::string::String,::std::collections::HashMap<::std::string::String, \
             ::std::vec::Vec<::core::primitive::f64>>,::core::option::Option<(::core::primitive::u8,\
             ::core::primitive::char,)>,(::core::primitive::bool,::core::primitive::u128,),)"
        );
        let unit = sig("fn solve() {}").unwrap();
        assert_eq!((unit.params.len(), &unit.output), (0, &Ty::Unit));
        assert_eq!(unit.input_type().rust(), "()");
    }

    #[test]
    fn leetcode_style_associated_functions_are_found() {
        let s = parse(
            "struct Solution;\nimpl Solution {\n    pub fn two_sum(nums: Vec<i32>, target: i32) -> Vec<i32> { vec![] }\n}",
            "two_sum",
        )
        .unwrap();
        assert_eq!(s.owner, Owner::Type("Solution".into()));
        assert_eq!(s.call_path(), "<Solution>::two_sum");
        assert_eq!(
            s.to_string(),
            "Solution::two_sum(nums: Vec<i32>, target: i32) -> Vec<i32>"
        );
    }

    #[test]
    fn what_cannot_be_called_with_json_is_refused_with_the_reason() {
        let reason = |code: &str| sig(code).unwrap_err().to_string();
        assert_eq!(
            reason("fn main() {}\nfn other() {}"),
            "function `solve` not found at the top of the file; defined: main, other"
        );
        assert!(reason("fn solve(").starts_with("the source does not parse"));
        for (code, why) in [
            ("fn solve(v: &mut Vec<i32>) {}", "`&mut` is not supported"),
            ("fn solve<T>(v: T) {}", "it is generic"),
            ("async fn solve() {}", "it is `async`"),
            ("unsafe fn solve() {}", "`unsafe fn`"),
            ("fn solve(v: Vec<&str>) {}", "references are supported only"),
            (
                "fn solve() -> &'static str { \"\" }",
                "its result `&'static str`",
            ),
            (
                "fn solve(m: HashMap<i32, i32>) {}",
                "map keys must be `String`",
            ),
            ("fn solve(s: HashSet<i32>) {}", "not a supported type"),
            ("fn solve(s: my::Vec<i32>) {}", "not a supported type"),
            ("fn solve(x: impl Fn()) {}", "not a supported type"),
            ("fn solve(x: [i32; 3]) {}", "not a supported type"),
        ] {
            let got = reason(code);
            assert!(got.contains(why), "{code}: {got}");
        }
        assert!(matches!(
            sig("fn solve() {}\nimpl S { fn solve() {} }"),
            Err(SignatureError::Ambiguous { .. })
        ));
        // A lifetime parameter is harmless.
        assert!(sig("fn solve<'a>(s: &'a str) -> usize { s.len() }").is_ok());
    }
}
