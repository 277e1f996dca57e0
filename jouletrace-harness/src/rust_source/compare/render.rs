//! Values shown as Python's `repr` shows them (`[1, 2]`, `{'a': (1, 2.5)}`, `None`, `1e+16`),
//! bounded, for the "expected X, got Y" of a wrong answer. The orchestrator renders both sides
//! itself: nothing a candidate's process wrote is shown except an unrepresentable object's own
//! `repr`, which the host bounds.

use std::fmt::Write;

use super::Val;

/// Longest rendering of a value in a message (the Python host's bound before protocol 3).
pub const MAX_SHOWN: usize = 2000;

/// `repr(value)`, cut after [`MAX_SHOWN`] characters with `…` and the reason.
pub fn python_repr(value: &Val) -> String {
    let mut out = Out {
        text: String::new(),
        full: false,
    };
    write_val(&mut out, value);
    if out.full {
        return cut(out.text, MAX_SHOWN) + &format!(" (more than {MAX_SHOWN} characters)");
    }
    out.text
}

/// `text` cut to at most `max` bytes on a character boundary, with `…` when it was cut.
pub fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut at = max;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
        text.push('…');
    }
    text
}

struct Out {
    text: String,
    full: bool,
}

impl Out {
    fn push(&mut self, s: &str) {
        if self.full {
            return;
        }
        self.text.push_str(s);
        if self.text.len() > MAX_SHOWN {
            self.full = true;
        }
    }
}

fn write_val(out: &mut Out, v: &Val) {
    if out.full {
        return;
    }
    match v {
        Val::None => out.push("None"),
        Val::Bool(true) => out.push("True"),
        Val::Bool(false) => out.push("False"),
        Val::Int(i) => out.push(i.as_str()),
        Val::Float(f) => out.push(&float_repr(*f)),
        Val::Str(s) => out.push(&str_repr(s)),
        Val::Bytes(b) => out.push(&bytes_repr(b)),
        Val::List(items) => sequence(out, "[", items, "]"),
        Val::Tuple(items) if items.len() == 1 => sequence(out, "(", items, ",)"),
        Val::Tuple(items) => sequence(out, "(", items, ")"),
        Val::Set(items) if items.is_empty() => out.push("set()"),
        Val::Set(items) => sequence(out, "{", items, "}"),
        Val::FrozenSet(items) if items.is_empty() => out.push("frozenset()"),
        Val::FrozenSet(items) => sequence(out, "frozenset({", items, "})"),
        Val::Dict(items) => {
            out.push("{");
            for (i, (k, v)) in items.iter().enumerate() {
                if i > 0 {
                    out.push(", ");
                }
                write_val(out, k);
                out.push(": ");
                write_val(out, v);
            }
            out.push("}");
        }
        Val::Derived { type_name, base } => {
            out.push(type_name);
            out.push("(");
            write_val(out, base);
            out.push(")");
        }
        Val::Other { repr, .. } => out.push(repr),
        Val::Cut { reason } => out.push(&format!("<{reason}>")),
    }
}

fn sequence(out: &mut Out, open: &str, items: &[Val], close: &str) {
    out.push(open);
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.push(", ");
        }
        write_val(out, v);
    }
    out.push(close);
}

/// Python's `repr(float)`: the shortest digits that read back as the same float, in fixed
/// notation when the decimal exponent is in -4..16, else as `1.5e+16` / `1e-05`.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    // `{:e}` gives the shortest round-trip digits: `-1.5e16`, `1e-5`, `0e0`.
    let sci = format!("{f:e}");
    let (sign, sci) = match sci.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", sci.as_str()),
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let point = exp + 1; // digits before the decimal point
    let n = digits.len() as i32;
    let body = if !(-4 < point && point <= 16) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        format!(
            "{first}{frac}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
    } else if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point >= n {
        format!("{digits}{}.0", "0".repeat((point - n) as usize))
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{body}")
}

/// `json.dumps(float)`: `repr`, except `NaN`, `Infinity`, `-Infinity`.
pub fn json_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        float_repr(f)
    }
}

/// Python's `repr(str)`: single quotes unless the text has one and no double quote; escapes
/// for backslashes, the quote, `\t\n\r`, other control and non-printable characters.
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if printable(c) => out.push(c),
            c if (c as u32) <= 0xff => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) <= 0xffff => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
        if out.len() > MAX_SHOWN + 8 {
            break;
        }
    }
    out.push(quote);
    out
}

/// An approximation of `str.isprintable` (Unicode categories C* and Z* other than the space
/// are not printable).
fn printable(c: char) -> bool {
    c == ' '
        || !(c.is_control()
            || c.is_whitespace()
            || matches!(c as u32, 0xad | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x2064 | 0xfeff | 0xe000..=0xf8ff | 0xfff9..=0xfffb))
}

/// Python's `repr(bytes)`: `b'…'` with printable ASCII as is, `\t\n\r`, the rest as `\xNN`.
fn bytes_repr(b: &[u8]) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut out = String::from("b");
    out.push(quote as char);
    for &c in b.iter().take(MAX_SHOWN) {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c as char);
            }
            0x20..=0x7e => out.push(c as char),
            c => {
                let _ = write!(out, "\\x{c:02x}");
            }
        }
    }
    out.push(quote as char);
    out
}
