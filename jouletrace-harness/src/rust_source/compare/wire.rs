//! A Python value as a host reports it (protocol 3, `docs/protocol.md` "Outputs"): a flat list of
//! tokens in pre-order, so that the JSON of a deeply nested value stays shallow. Containers give
//! their length and their items follow.
//!
//! | token | value |
//! |---|---|
//! | `null`, `true`, `false` | `None`, `True`, `False` |
//! | a JSON integer (below 2^53 in magnitude) | an int |
//! | a JSON string | a str |
//! | `["i", "-123…"]` | an int of any size, in decimal |
//! | `["f", "0.1"]` | a float, as Python's `repr` (`nan`, `inf`, `-inf` included) |
//! | `["b", "00ff"]` | bytes, in hex |
//! | `["l", n]`, `["t", n]`, `["s", n]`, `["fs", n]` | list, tuple, set, frozenset of the next `n` values |
//! | `["d", n]` | dict of the next `n` key, value pairs (insertion order) |
//! | `["x", "type"]` | an instance of a subclass or another sequence type; the next value is its built-in value |
//! | `["o", "type", "repr"]` | anything else: equals nothing |
//! | `["cut", "reason"]` | cut by the host's bounds: equals nothing |

use serde_json::Value;

use super::{Int, Val};

/// Deepest value decoded (the host cuts at [`MAX_DEPTH`] already; JSON expected outputs are
/// shallower than serde_json's limit of 128).
pub const MAX_DEPTH: usize = 200;

/// Why a host's tokens do not make a value (a protocol error: our host never writes these).
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("unreadable output encoding at token {at}: {why}")]
pub struct WireError {
    pub at: usize,
    pub why: String,
}

/// The one value `tokens` encode.
pub fn decode(tokens: &[Value]) -> Result<Val, WireError> {
    let mut at = 0;
    let v = value(tokens, &mut at, 0)?;
    if at != tokens.len() {
        return Err(WireError {
            at,
            why: format!("{} token(s) after the value", tokens.len() - at),
        });
    }
    Ok(v)
}

fn value(tokens: &[Value], at: &mut usize, depth: usize) -> Result<Val, WireError> {
    let here = *at;
    let fail = |why: String| WireError { at: here, why };
    if depth > MAX_DEPTH {
        return Err(fail(format!("nested deeper than {MAX_DEPTH}")));
    }
    let token = tokens
        .get(here)
        .ok_or_else(|| fail("the tokens end inside a value".into()))?;
    *at += 1;
    Ok(match token {
        Value::Null => Val::None,
        Value::Bool(b) => Val::Bool(*b),
        Value::String(s) => Val::Str(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => {
            Val::Int(Int::parse(&n.to_string()).ok_or_else(|| fail(format!("int {n}")))?)
        }
        Value::Array(parts) => {
            let tag = parts.first().and_then(Value::as_str).unwrap_or("");
            let text = |i: usize| {
                parts
                    .get(i)
                    .and_then(Value::as_str)
                    .ok_or_else(|| fail(format!("`{tag}` needs a string in position {i}")))
            };
            let count = || {
                parts
                    .get(1)
                    .and_then(Value::as_u64)
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|&n| n <= tokens.len())
                    .ok_or_else(|| fail(format!("`{tag}` needs a length")))
            };
            let items = |n: usize, at: &mut usize| -> Result<Vec<Val>, WireError> {
                (0..n).map(|_| value(tokens, at, depth + 1)).collect()
            };
            match tag {
                "i" => Val::Int(Int::parse(text(1)?).ok_or_else(|| fail("bad int".into()))?),
                "f" => Val::Float(
                    text(1)?
                        .parse::<f64>()
                        .map_err(|e| fail(format!("bad float: {e}")))?,
                ),
                "b" => Val::Bytes(hex(text(1)?).ok_or_else(|| fail("bad hex".into()))?),
                "l" => Val::List(items(count()?, at)?),
                "t" => Val::Tuple(items(count()?, at)?),
                "s" => Val::Set(items(count()?, at)?),
                "fs" => Val::FrozenSet(items(count()?, at)?),
                "d" => {
                    let flat = items(count()?.saturating_mul(2), at)?;
                    let mut pairs = Vec::with_capacity(flat.len() / 2);
                    let mut flat = flat.into_iter();
                    while let (Some(k), Some(v)) = (flat.next(), flat.next()) {
                        pairs.push((k, v));
                    }
                    Val::Dict(pairs)
                }
                "x" => Val::Derived {
                    type_name: text(1)?.to_owned(),
                    base: Box::new(value(tokens, at, depth + 1)?),
                },
                "o" => Val::Other {
                    type_name: text(1)?.to_owned(),
                    repr: text(2)?.to_owned(),
                },
                "cut" => Val::Cut {
                    reason: text(1)?.to_owned(),
                },
                other => return Err(fail(format!("unknown tag {other:?}"))),
            }
        }
        other => return Err(fail(format!("unexpected token {other}"))),
    })
}

fn hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}
