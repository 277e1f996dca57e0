//! Parsing of the attribute arguments into typed values, each checked once here.
//!
//! Every error carries the span of the argument at fault. Several mistakes in one attribute are
//! reported together rather than one compile at a time.

use proc_macro2::{Delimiter, LineColumn, Span, TokenStream, TokenTree};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ExprPath, Lit, Meta, Token};

/// The options `#[joule_bench]` accepts, in the order the error message lists them.
const BENCH_KEYS: &[&str] = &[
    "problem",
    "cases",
    "timeout",
    "memory_limit_mb",
    "trials",
    "warmup",
    "threshold",
    "ignore",
    "tolerance",
    "check",
];

const CASES_KEYS: &[&str] = &["problem"];

/// Collects errors so that one compile reports every bad argument.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    pub(crate) fn at(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.push(syn::Error::new(span, msg));
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Both results, or every error of the two.
pub(crate) fn both<A, B>(a: syn::Result<A>, b: syn::Result<B>) -> syn::Result<(A, B)> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(mut e), Err(f)) => {
            e.combine(f);
            Err(e)
        }
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(e),
    }
}

/// A problem name as written, with the span of its string literal.
#[derive(Clone)]
pub(crate) struct ProblemName {
    pub(crate) name: String,
    pub(crate) span: Span,
}

/// One `(input, expected)` pair of `cases = [...]`.
pub(crate) struct InlineCase {
    /// The input as written in the source, which names the case.
    pub(crate) id: String,
    pub(crate) input: Expr,
    pub(crate) expected: Expr,
}

pub(crate) enum CaseSource {
    Problem(ProblemName),
    Function(ExprPath),
    Inline(Vec<InlineCase>),
}

pub(crate) enum Compare {
    Eq,
    Tolerance { value: f64, span: Span },
    Check(ExprPath),
}

#[derive(Default)]
pub(crate) struct Options {
    pub(crate) timeout_ms: Option<u64>,
    pub(crate) memory_limit_mb: Option<u64>,
    pub(crate) trials: Option<u32>,
    pub(crate) warmup: Option<u32>,
    pub(crate) threshold: Option<f64>,
    pub(crate) ignore: bool,
}

pub(crate) struct BenchArgs {
    pub(crate) source: CaseSource,
    pub(crate) compare: Compare,
    pub(crate) options: Options,
}

fn parse_metas(attr: TokenStream) -> syn::Result<Punctuated<Meta, Token![,]>> {
    Punctuated::<Meta, Token![,]>::parse_terminated.parse2(attr)
}

fn key_of(meta: &Meta) -> String {
    meta.path()
        .get_ident()
        .map(|i| i.to_string())
        .unwrap_or_else(|| quote::quote!(#meta).to_string())
}

fn unknown(errors: &mut Errors, meta: &Meta, allowed: &[&str]) {
    let list = allowed
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    errors.at(
        meta.path().span(),
        format!("unknown option `{}`; the options are: {list}", key_of(meta)),
    );
}

/// The value of `key = value`; a bare `key` or `key(...)` is an error.
fn value<'m>(meta: &'m Meta, errors: &mut Errors, what: &str) -> Option<&'m Expr> {
    match meta {
        Meta::NameValue(nv) => Some(&nv.value),
        _ => {
            errors.at(
                meta.span(),
                format!(
                    "`{}` takes a value: `{} = {what}`",
                    key_of(meta),
                    key_of(meta)
                ),
            );
            None
        }
    }
}

fn lit(expr: &Expr) -> Option<&Lit> {
    match expr {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit),
        Expr::Group(g) => lit(&g.expr),
        _ => None,
    }
}

fn string(expr: &Expr, errors: &mut Errors, key: &str, example: &str) -> Option<(String, Span)> {
    match lit(expr) {
        Some(Lit::Str(s)) => Some((s.value(), s.span())),
        _ => {
            errors.at(
                expr.span(),
                format!("`{key}` takes a string literal, e.g. `{key} = {example}`"),
            );
            None
        }
    }
}

fn integer<T>(expr: &Expr, errors: &mut Errors, key: &str, min: T, example: &str) -> Option<T>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
    T::Err: std::fmt::Display,
{
    let Some(Lit::Int(i)) = lit(expr) else {
        errors.at(
            expr.span(),
            format!("`{key}` takes a whole number, e.g. `{key} = {example}`"),
        );
        return None;
    };
    match i.base10_parse::<T>() {
        Ok(v) if v >= min => Some(v),
        Ok(_) => {
            errors.at(i.span(), format!("`{key}` must be at least {min}"));
            None
        }
        Err(e) => {
            errors.at(i.span(), format!("`{key}`: {e}"));
            None
        }
    }
}

fn float(expr: &Expr, errors: &mut Errors, key: &str, example: &str) -> Option<(f64, Span)> {
    let parsed = match lit(expr) {
        Some(Lit::Float(f)) => f.base10_parse::<f64>().map(|v| (v, f.span())),
        Some(Lit::Int(i)) => i.base10_parse::<f64>().map(|v| (v, i.span())),
        _ => {
            errors.at(
                expr.span(),
                format!("`{key}` takes a number, e.g. `{key} = {example}`"),
            );
            return None;
        }
    };
    match parsed {
        Ok((v, span)) if v.is_finite() => Some((v, span)),
        Ok((_, span)) => {
            errors.at(span, format!("`{key}` must be finite"));
            None
        }
        Err(e) => {
            errors.at(expr.span(), format!("`{key}`: {e}"));
            None
        }
    }
}

fn path(expr: &Expr, errors: &mut Errors, key: &str, example: &str) -> Option<ExprPath> {
    match expr {
        Expr::Path(p) => Some(p.clone()),
        Expr::Group(g) => path(&g.expr, errors, key, example),
        _ => {
            errors.at(
                expr.span(),
                format!("`{key}` takes the path of a function, e.g. `{key} = {example}`"),
            );
            None
        }
    }
}

/// What follows `key =` in a "takes a value" message.
fn example(key: &str) -> &'static str {
    match key {
        "problem" => "\"sort\"",
        "cases" => "my_cases",
        "timeout" => "\"5s\"",
        "memory_limit_mb" => "512",
        "trials" => "10",
        "warmup" => "2",
        "threshold" => "0.05",
        "tolerance" => "1e-9",
        "check" => "my_validator",
        _ => "…",
    }
}

/// `"500ms"`, `"5s"`, `"1m 30s"` → milliseconds: the grammar of every duration in JouleTrace's
/// configuration (`humantime`, as `timeout = "1m 30s"` in `[package.metadata.joule]`), so a
/// value means the same in an attribute and in a manifest.
pub(crate) fn parse_timeout(text: &str) -> Result<u64, String> {
    let hint = "write a duration such as \"100ms\", \"2s\" or \"1m 30s\"";
    let d = humantime::parse_duration(text.trim())
        .map_err(|_| format!("invalid timeout \"{text}\": {hint}"))?;
    let ms = u64::try_from(d.as_millis()).map_err(|_| format!("timeout \"{text}\" is too long"))?;
    if ms == 0 {
        return Err(format!(
            "timeout \"{text}\" would stop every run at once; {hint}"
        ));
    }
    Ok(ms)
}

/// Problem names become part of test names (`sort::std_sort`) and of a type name, so they keep
/// to characters that survive both.
fn check_problem_name(name: &str, span: Span, errors: &mut Errors) {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        errors.at(
            span,
            format!(
                "invalid problem name \"{name}\": use letters, digits, `_` and `-` \
                 (the name appears in test names such as `{name}::candidate`)"
            ),
        );
    }
}

fn problem(expr: &Expr, errors: &mut Errors) -> Option<ProblemName> {
    let (name, span) = string(expr, errors, "problem", "\"sort\"")?;
    check_problem_name(&name, span, errors);
    Some(ProblemName { name, span })
}

fn inline_cases(array: &syn::ExprArray, errors: &mut Errors) -> Vec<InlineCase> {
    let mut cases: Vec<InlineCase> = Vec::new();
    if array.elems.is_empty() {
        errors.at(
            array.span(),
            "`cases = []` gives the candidate nothing to check; list `(input, expected)` pairs",
        );
    }
    for elem in &array.elems {
        let pair = match elem {
            Expr::Tuple(t) if t.elems.len() == 2 => t,
            other => {
                errors.at(
                    other.span(),
                    "each inline case is an `(input, expected)` pair; with several arguments \
                     the input is itself a tuple: `((a, b), expected)`",
                );
                continue;
            }
        };
        let input = pair.elems[0].clone();
        let expected = pair.elems[1].clone();
        let id = as_written(quote::quote!(#input));
        if cases.iter().any(|c| c.id == id) {
            errors.at(
                input.span(),
                format!("duplicate inline case `{id}`: each input names its case"),
            );
            continue;
        }
        cases.push(InlineCase {
            id,
            input,
            expected,
        });
    }
    cases
}

/// The text of `tokens` as the user wrote it, with any run of whitespace as one space.
///
/// `Span::source_text` of a whole expression needs `Span::join`, which stable Rust lacks, so the
/// text is rebuilt token by token, keeping a space wherever the source had a gap.
fn as_written(tokens: TokenStream) -> String {
    fn push(
        out: &mut String,
        last: &mut Option<LineColumn>,
        text: &str,
        at: (LineColumn, LineColumn),
    ) {
        if last.is_some_and(|end| end != at.0) {
            out.push(' ');
        }
        out.push_str(text);
        *last = Some(at.1);
    }
    // A delimiter's own span may cover its whole group (syn rebuilds groups that way), so its
    // extent is derived from the group's: one character at either end.
    fn shift(at: LineColumn, by: isize) -> LineColumn {
        LineColumn {
            line: at.line,
            column: at.column.saturating_add_signed(by),
        }
    }
    fn walk(tokens: TokenStream, out: &mut String, last: &mut Option<LineColumn>) {
        for tt in tokens {
            match tt {
                TokenTree::Group(g) => {
                    let (open, close) = match g.delimiter() {
                        Delimiter::Parenthesis => ("(", ")"),
                        Delimiter::Bracket => ("[", "]"),
                        Delimiter::Brace => ("{", "}"),
                        Delimiter::None => {
                            walk(g.stream(), out, last);
                            continue;
                        }
                    };
                    let (start, end) = (g.span().start(), g.span().end());
                    push(out, last, open, (start, shift(start, 1)));
                    walk(g.stream(), out, last);
                    push(out, last, close, (shift(end, -1), end));
                }
                leaf => push(
                    out,
                    last,
                    &leaf.to_string(),
                    (leaf.span().start(), leaf.span().end()),
                ),
            }
        }
    }
    let mut out = String::new();
    walk(tokens, &mut out, &mut None);
    out
}

/// Remembers which keys were given, to reject repeats.
fn first_time(seen: &mut Vec<String>, meta: &Meta, errors: &mut Errors) -> bool {
    let key = key_of(meta);
    if seen.contains(&key) {
        errors.at(meta.path().span(), format!("`{key}` is given twice"));
        false
    } else {
        seen.push(key);
        true
    }
}

pub(crate) fn parse_bench(attr: TokenStream) -> syn::Result<BenchArgs> {
    let metas = parse_metas(attr)?;
    let mut errors = Errors::default();
    let mut seen = Vec::new();
    let mut source: Option<CaseSource> = None;
    let mut compare: Option<Compare> = None;
    let mut options = Options::default();

    for meta in &metas {
        let key = key_of(meta);
        if !BENCH_KEYS.contains(&key.as_str()) {
            unknown(&mut errors, meta, BENCH_KEYS);
            continue;
        }
        if !first_time(&mut seen, meta, &mut errors) {
            continue;
        }
        let key_span = meta.path().span();
        if key == "ignore" {
            match meta {
                Meta::Path(_) => options.ignore = true,
                Meta::NameValue(nv) => match lit(&nv.value) {
                    Some(Lit::Bool(b)) => options.ignore = b.value,
                    _ => errors.at(nv.value.span(), "`ignore` is a flag: write `ignore`"),
                },
                Meta::List(l) => errors.at(l.span(), "`ignore` is a flag: write `ignore`"),
            }
            continue;
        }
        let Some(v) = value(meta, &mut errors, example(&key)) else {
            continue;
        };
        match key.as_str() {
            "problem" | "cases" => {
                let parsed = if key == "problem" {
                    problem(v, &mut errors).map(CaseSource::Problem)
                } else {
                    match v {
                        Expr::Array(a) => Some(CaseSource::Inline(inline_cases(a, &mut errors))),
                        other => {
                            path(other, &mut errors, "cases", "my_cases").map(CaseSource::Function)
                        }
                    }
                };
                if source.is_some() {
                    errors.at(
                        key_span,
                        "`problem` and `cases` exclude each other: a candidate either solves a \
                         shared problem (`problem = \"…\"`, cases from its #[joule_cases]) or \
                         brings its own cases (`cases = …`)",
                    );
                } else if let Some(p) = parsed {
                    source = Some(p);
                }
            }
            "tolerance" | "check" => {
                let parsed = if key == "tolerance" {
                    float(v, &mut errors, "tolerance", "1e-9").and_then(|(value, span)| {
                        if value < 0.0 {
                            errors.at(span, "`tolerance` cannot be negative");
                            None
                        } else {
                            Some(Compare::Tolerance { value, span })
                        }
                    })
                } else {
                    path(v, &mut errors, "check", "my_validator").map(Compare::Check)
                };
                if compare.is_some() {
                    errors.at(
                        key_span,
                        "`tolerance` and `check` exclude each other: a custom validator decides \
                         alone whether an output is right",
                    );
                } else if let Some(c) = parsed {
                    compare = Some(c);
                }
            }
            "timeout" => {
                if let Some((text, span)) = string(v, &mut errors, "timeout", "\"5s\"") {
                    match parse_timeout(&text) {
                        Ok(ms) => options.timeout_ms = Some(ms),
                        Err(msg) => errors.at(span, msg),
                    }
                }
            }
            "memory_limit_mb" => {
                options.memory_limit_mb = integer(v, &mut errors, "memory_limit_mb", 1u64, "512");
            }
            "trials" => options.trials = integer(v, &mut errors, "trials", 1u32, "10"),
            "warmup" => options.warmup = integer(v, &mut errors, "warmup", 0u32, "2"),
            "threshold" => {
                if let Some((t, span)) = float(v, &mut errors, "threshold", "0.05") {
                    if t > 0.0 && t <= 1.0 {
                        options.threshold = Some(t);
                    } else {
                        errors.at(
                            span,
                            "`threshold` is a fraction in (0, 1]: `threshold = 0.05` flags a 5% \
                             rise in energy",
                        );
                    }
                }
            }
            // Not reached: keys outside BENCH_KEYS were rejected above.
            _ => unknown(&mut errors, meta, BENCH_KEYS),
        }
    }

    errors.finish()?;
    // Reached with no source only when neither key was given (a bad value was reported above).
    let source = source.ok_or_else(|| {
        syn::Error::new(
            Span::call_site(),
            "a candidate needs cases: `#[joule_bench(problem = \"…\")]` to share a problem's \
             #[joule_cases], or `#[joule_bench(cases = …)]` for its own (a function path or \
             `[(input, expected), …]`)",
        )
    })?;
    Ok(BenchArgs {
        source,
        compare: compare.unwrap_or(Compare::Eq),
        options,
    })
}

pub(crate) fn parse_cases(attr: TokenStream) -> syn::Result<ProblemName> {
    let metas = parse_metas(attr)?;
    let mut errors = Errors::default();
    let mut seen = Vec::new();
    let mut found = None;
    for meta in &metas {
        if !CASES_KEYS.contains(&key_of(meta).as_str()) {
            unknown(&mut errors, meta, CASES_KEYS);
            continue;
        }
        if !first_time(&mut seen, meta, &mut errors) {
            continue;
        }
        if let Some(v) = value(meta, &mut errors, "\"sort\"") {
            found = problem(v, &mut errors);
        }
    }
    errors.finish()?;
    found.ok_or_else(|| {
        syn::Error::new(
            Span::call_site(),
            "name the problem these cases belong to: `#[joule_cases(problem = \"…\")]`",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::parse_timeout;

    #[test]
    fn timeouts_parse_with_their_unit() {
        assert_eq!(parse_timeout("500ms"), Ok(500));
        assert_eq!(parse_timeout("5s"), Ok(5_000));
        assert_eq!(parse_timeout("2m"), Ok(120_000));
        // The configuration's grammar: compound durations too.
        assert_eq!(parse_timeout("1m 30s"), Ok(90_000));
        assert!(parse_timeout("5").is_err(), "a unit is required");
        assert!(parse_timeout("soon").is_err());
        assert!(parse_timeout("0s").is_err());
        assert!(
            parse_timeout("100us").is_err(),
            "below a millisecond is zero"
        );
        assert!(parse_timeout("s").is_err());
        assert!(parse_timeout("99999999999999999999m").is_err());
    }
}
