//! Lax, pydantic-compatible validation of request bodies: every error at once, each with its
//! location, pydantic's message and its error type name.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// One step of an error's location: an object key or an array index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Loc {
    Index(usize),
    Key(String),
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loc::Index(i) => write!(f, "{i}"),
            Loc::Key(k) => f.write_str(k),
        }
    }
}

impl From<&str> for Loc {
    fn from(key: &str) -> Self {
        Loc::Key(key.to_owned())
    }
}

/// One invalid field, as pydantic reports it: `loc` starts with `"body"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldError {
    pub loc: Vec<Loc>,
    pub message: String,
    /// pydantic's error type: `missing`, `string_type`, `int_from_float`, `json_invalid`, …
    #[serde(rename = "type")]
    pub kind: String,
}

impl FieldError {
    fn new(loc: &[Loc], kind: &str, message: impl Into<String>) -> Self {
        FieldError {
            loc: loc.to_vec(),
            message: message.into(),
            kind: kind.to_owned(),
        }
    }

    /// The location joined as the predecessor's 422 body shows it: `body -> test_cases -> 0`.
    pub fn field(&self) -> String {
        self.loc
            .iter()
            .map(Loc::to_string)
            .collect::<Vec<_>>()
            .join(" -> ")
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.field(), self.message, self.kind)
    }
}

/// Every error found in one request body, in pydantic's order (fields in declaration order).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub struct RequestErrors {
    pub errors: Vec<FieldError>,
}

impl RequestErrors {
    /// The predecessor's summary line: "Request validation failed with N errors".
    pub fn summary(&self) -> String {
        format!(
            "Request validation failed with {} errors",
            self.errors.len()
        )
    }
}

impl fmt::Display for RequestErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())?;
        for e in &self.errors {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

/// The JSON kind of a raw value, read from its first character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

pub(super) fn kind(raw: &RawValue) -> Kind {
    match raw.get().trim_start().as_bytes().first() {
        Some(b'n') => Kind::Null,
        Some(b't' | b'f') => Kind::Bool,
        Some(b'"') => Kind::String,
        Some(b'[') => Kind::Array,
        Some(b'{') => Kind::Object,
        _ => Kind::Number,
    }
}

/// Parses a body into raw JSON, or the `json_invalid` / `missing` error FastAPI gives.
pub(super) fn parse_body(body: &[u8]) -> Result<&RawValue, RequestErrors> {
    // FastAPI only parses a non-empty body; an empty one is a missing body.
    if body.is_empty() {
        return Err(RequestErrors {
            errors: vec![FieldError::new(
                &["body".into()],
                "missing",
                "Field required",
            )],
        });
    }
    let text = std::str::from_utf8(body).map_err(|e| json_invalid(e.valid_up_to(), body))?;
    serde_json::from_str::<&RawValue>(text).map_err(|e| {
        let offset = char_offset(text, e.line(), e.column());
        json_invalid(offset, body)
    })
}

fn json_invalid(offset: usize, _body: &[u8]) -> RequestErrors {
    RequestErrors {
        errors: vec![FieldError::new(
            &["body".into(), Loc::Index(offset)],
            "json_invalid",
            "JSON decode error",
        )],
    }
}

/// serde_json reports a 1-based line and a byte column; Python's `JSONDecodeError.pos`, which
/// the predecessor shows, is a character offset into the whole text.
fn char_offset(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let mut cut = column.saturating_sub(1).min(l.len());
            while !l.is_char_boundary(cut) {
                cut -= 1;
            }
            return offset + l[..cut].chars().count();
        }
        offset += l.chars().count();
    }
    offset
}

/// Reads the fields of one JSON object, collecting errors under `loc`.
pub(super) struct Fields<'a, 'e> {
    map: HashMap<String, &'a RawValue>,
    loc: Vec<Loc>,
    errors: &'e mut Vec<FieldError>,
}

impl<'a, 'e> Fields<'a, 'e> {
    /// `None` (with a `model_attributes_type` error) when `raw` is not an object. FastAPI
    /// validates bodies with `from_attributes`, hence that type rather than `model_type`.
    pub(super) fn object(
        raw: &'a RawValue,
        loc: Vec<Loc>,
        errors: &'e mut Vec<FieldError>,
    ) -> Option<Self> {
        let map = if kind(raw) == Kind::Object {
            serde_json::from_str::<HashMap<String, &'a RawValue>>(raw.get()).ok()
        } else {
            None
        };
        match map {
            Some(map) => Some(Fields { map, loc, errors }),
            None => {
                errors.push(FieldError::new(
                    &loc,
                    "model_attributes_type",
                    "Input should be a valid dictionary or object to extract fields from",
                ));
                None
            }
        }
    }

    fn at(&self, key: &str) -> Vec<Loc> {
        let mut loc = self.loc.clone();
        loc.push(key.into());
        loc
    }

    fn error(&mut self, key: &str, kind: &str, message: impl Into<String>) {
        let loc = self.at(key);
        self.errors.push(FieldError::new(&loc, kind, message));
    }

    /// The raw value of a required field, or a `missing` error.
    pub(super) fn required(&mut self, key: &str) -> Option<&'a RawValue> {
        let raw = self.map.get(key).copied();
        if raw.is_none() {
            self.error(key, "missing", "Field required");
        }
        raw
    }

    /// The raw value of an optional field (absent → `None`; present null → `Some(null)`).
    pub(super) fn optional(&self, key: &str) -> Option<&'a RawValue> {
        self.map.get(key).copied()
    }

    pub(super) fn location(&self, key: &str) -> Vec<Loc> {
        self.at(key)
    }

    pub(super) fn errors(&mut self) -> &mut Vec<FieldError> {
        self.errors
    }

    pub(super) fn string(&mut self, key: &str, raw: &RawValue) -> Option<String> {
        if kind(raw) == Kind::String
            && let Ok(s) = serde_json::from_str::<String>(raw.get())
        {
            return Some(s);
        }
        self.error(key, "string_type", "Input should be a valid string");
        None
    }

    /// A required string field.
    pub(super) fn required_string(&mut self, key: &str) -> Option<String> {
        let raw = self.required(key)?;
        self.string(key, raw)
    }

    /// `str = default`: absent → default; null → `string_type`.
    pub(super) fn string_or(&mut self, key: &str, default: &str) -> Option<String> {
        match self.optional(key) {
            None => Some(default.to_owned()),
            Some(raw) => self.string(key, raw),
        }
    }

    /// `Optional[str] = None`.
    pub(super) fn optional_string(&mut self, key: &str) -> Option<Option<String>> {
        match self.optional(key) {
            None => Some(None),
            Some(raw) if kind(raw) == Kind::Null => Some(None),
            Some(raw) => self.string(key, raw).map(Some),
        }
    }

    /// `int = Field(default, ge, le)`: absent → default; null → `int_type`.
    pub(super) fn int_or(
        &mut self,
        key: &str,
        default: i64,
        ge: i64,
        le: Option<i64>,
    ) -> Option<i64> {
        match self.optional(key) {
            None => Some(default),
            Some(raw) => self.int(key, raw, ge, le),
        }
    }

    /// `Optional[int] = Field(None, ge, le)`.
    pub(super) fn optional_int(
        &mut self,
        key: &str,
        ge: i64,
        le: Option<i64>,
    ) -> Option<Option<i64>> {
        match self.optional(key) {
            None => Some(None),
            Some(raw) if kind(raw) == Kind::Null => Some(None),
            Some(raw) => self.int(key, raw, ge, le).map(Some),
        }
    }

    /// `Optional[float] = Field(default, ge, le)`; an explicit null stays null.
    pub(super) fn optional_float_or(
        &mut self,
        key: &str,
        default: f64,
        ge: i64,
        le: i64,
    ) -> Option<Option<f64>> {
        match self.optional(key) {
            None => Some(Some(default)),
            Some(raw) if kind(raw) == Kind::Null => Some(None),
            Some(raw) => self.float(key, raw, ge, le).map(Some),
        }
    }

    fn int(&mut self, key: &str, raw: &RawValue, ge: i64, le: Option<i64>) -> Option<i64> {
        let value = match lax_int(raw) {
            Ok(v) => v,
            Err((kind, message)) => {
                self.error(key, kind, message);
                return None;
            }
        };
        if value < i128::from(ge) {
            self.error(
                key,
                "greater_than_equal",
                format!("Input should be greater than or equal to {ge}"),
            );
            return None;
        }
        // Values beyond i64 are valid Python ints; no field we accept has a use for them, so
        // they fail as "too large" against the widest bound we can hold.
        let le = le.unwrap_or(i64::MAX);
        if value > i128::from(le) {
            self.error(
                key,
                "less_than_equal",
                format!("Input should be less than or equal to {le}"),
            );
            return None;
        }
        Some(value as i64)
    }

    fn float(&mut self, key: &str, raw: &RawValue, ge: i64, le: i64) -> Option<f64> {
        let value = match lax_float(raw) {
            Ok(v) => v,
            Err((kind, message)) => {
                self.error(key, kind, message);
                return None;
            }
        };
        // NaN fails the upper bound only, as in pydantic.
        if value < ge as f64 {
            self.error(
                key,
                "greater_than_equal",
                format!("Input should be greater than or equal to {ge}"),
            );
            return None;
        }
        if value.is_nan() || value > le as f64 {
            self.error(
                key,
                "less_than_equal",
                format!("Input should be less than or equal to {le}"),
            );
            return None;
        }
        Some(value)
    }
}

type Refusal = (&'static str, &'static str);

const INT_TYPE: Refusal = ("int_type", "Input should be a valid integer");
const INT_PARSING: Refusal = (
    "int_parsing",
    "Input should be a valid integer, unable to parse string as an integer",
);
const INT_FROM_FLOAT: Refusal = (
    "int_from_float",
    "Input should be a valid integer, got a number with a fractional part",
);
const FINITE_NUMBER: Refusal = ("finite_number", "Input should be a finite number");
const FLOAT_TYPE: Refusal = ("float_type", "Input should be a valid number");
const FLOAT_PARSING: Refusal = (
    "float_parsing",
    "Input should be a valid number, unable to parse string as a number",
);

/// pydantic's lax int: ints, integral floats, bools, and strings of an integer (surrounding
/// whitespace and a `.000` tail allowed). Out-of-range values saturate so bounds reject them.
fn lax_int(raw: &RawValue) -> Result<i128, Refusal> {
    match kind(raw) {
        Kind::Bool => Ok(i128::from(raw.get().trim() == "true")),
        Kind::Number => {
            // serde_json refuses numbers beyond f64 (1e400); Python's json makes them inf.
            let n: serde_json::Number =
                serde_json::from_str(raw.get()).map_err(|_| FINITE_NUMBER)?;
            if let Some(i) = n.as_i64() {
                Ok(i128::from(i))
            } else if let Some(u) = n.as_u64() {
                Ok(i128::from(u))
            } else {
                float_as_int(n.as_f64().ok_or(INT_TYPE)?)
            }
        }
        Kind::String => {
            let s: String = serde_json::from_str(raw.get()).map_err(|_| INT_TYPE)?;
            str_as_int(&s)
        }
        Kind::Null | Kind::Array | Kind::Object => Err(INT_TYPE),
    }
}

fn float_as_int(f: f64) -> Result<i128, Refusal> {
    if !f.is_finite() {
        Err(FINITE_NUMBER)
    } else if f.fract() != 0.0 {
        Err(INT_FROM_FLOAT)
    } else {
        // `as` saturates, which the bounds then reject.
        Ok(f as i128)
    }
}

fn str_as_int(s: &str) -> Result<i128, Refusal> {
    let s = s.trim();
    let digits = |t: &str| {
        let body = t.strip_prefix(['+', '-']).unwrap_or(t);
        !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit())
    };
    let parse = |t: &str| -> Option<i128> {
        if !digits(t) {
            return None;
        }
        Some(t.parse::<i128>().unwrap_or(if t.starts_with('-') {
            i128::MIN
        } else {
            i128::MAX
        }))
    };
    if let Some(v) = parse(s) {
        return Ok(v);
    }
    // pydantic strips a decimal tail made only of zeros: "3.000" is 3.
    if let Some((whole, tail)) = s.split_once('.')
        && tail.bytes().all(|b| b == b'0')
        && let Some(v) = parse(whole)
    {
        return Ok(v);
    }
    Err(INT_PARSING)
}

/// pydantic's lax float: numbers, bools, and strings that parse as a float (`"inf"`, `"nan"`
/// included, as pydantic allows them by default).
fn lax_float(raw: &RawValue) -> Result<f64, Refusal> {
    match kind(raw) {
        Kind::Bool => Ok(if raw.get().trim() == "true" { 1.0 } else { 0.0 }),
        Kind::Number => Ok(serde_json::from_str::<f64>(raw.get()).unwrap_or_else(|_| {
            // Beyond f64 (1e400): Python's json makes it infinite, and so do we.
            if raw.get().trim_start().starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        })),
        Kind::String => {
            let s: String = serde_json::from_str(raw.get()).map_err(|_| FLOAT_TYPE)?;
            s.trim().parse::<f64>().map_err(|_| FLOAT_PARSING)
        }
        Kind::Null | Kind::Array | Kind::Object => Err(FLOAT_TYPE),
    }
}

/// `List[...]`: the elements' raw values, or a `list_type` error.
pub(super) fn list<'a>(
    raw: &'a RawValue,
    loc: &[Loc],
    errors: &mut Vec<FieldError>,
) -> Option<Vec<&'a RawValue>> {
    if kind(raw) == Kind::Array
        && let Ok(items) = serde_json::from_str::<Vec<&'a RawValue>>(raw.get())
    {
        return Some(items);
    }
    errors.push(FieldError::new(
        loc,
        "list_type",
        "Input should be a valid list",
    ));
    None
}

/// `Dict[str, Any]`: the object, or a `dict_type` error.
pub(super) fn dict(
    raw: &RawValue,
    loc: &[Loc],
    errors: &mut Vec<FieldError>,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    if kind(raw) == Kind::Object
        && let Ok(map) = serde_json::from_str(raw.get())
    {
        return Some(map);
    }
    errors.push(FieldError::new(
        loc,
        "dict_type",
        "Input should be a valid dictionary",
    ));
    None
}

/// A `ValueError` raised by a field validator, as pydantic words it.
pub(super) fn value_error(loc: &[Loc], message: &str) -> FieldError {
    FieldError::new(loc, "value_error", format!("Value error, {message}"))
}

/// A `Literal[...]` field that got something else.
pub(super) fn literal_error(loc: &[Loc], allowed: &[&str]) -> FieldError {
    let quoted: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
    let expected = match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.concat(),
    };
    FieldError::new(loc, "literal_error", format!("Input should be {expected}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn lax_int_follows_pydantic() {
        assert_eq!(lax_int(&raw("3")), Ok(3));
        assert_eq!(lax_int(&raw("3.0")), Ok(3));
        assert_eq!(lax_int(&raw("true")), Ok(1));
        assert_eq!(lax_int(&raw("false")), Ok(0));
        assert_eq!(lax_int(&raw("\" 3 \"")), Ok(3));
        assert_eq!(lax_int(&raw("\"3.00\"")), Ok(3));
        assert_eq!(lax_int(&raw("\"-4\"")), Ok(-4));
        assert_eq!(lax_int(&raw("3.5")), Err(INT_FROM_FLOAT));
        assert_eq!(lax_int(&raw("\"3.5\"")), Err(INT_PARSING));
        assert_eq!(lax_int(&raw("\"three\"")), Err(INT_PARSING));
        assert_eq!(lax_int(&raw("null")), Err(INT_TYPE));
        assert_eq!(lax_int(&raw("[3]")), Err(INT_TYPE));
        assert_eq!(lax_int(&raw("1e400")), Err(FINITE_NUMBER));
        assert!(lax_int(&raw("99999999999999999999999999999999999999999")).unwrap() > 1 << 100);
    }

    #[test]
    fn lax_float_follows_pydantic() {
        assert_eq!(lax_float(&raw("5")), Ok(5.0));
        assert_eq!(lax_float(&raw("\"2.5\"")), Ok(2.5));
        assert_eq!(lax_float(&raw("true")), Ok(1.0));
        assert_eq!(lax_float(&raw("\"x\"")), Err(FLOAT_PARSING));
        assert_eq!(lax_float(&raw("{}")), Err(FLOAT_TYPE));
    }

    #[test]
    fn json_offsets_are_characters_like_python() {
        // Python: json.loads('{"a": é x}') fails at char 6.
        let err = parse_body("{\"a\": é x}".as_bytes()).unwrap_err();
        assert_eq!(err.errors[0].kind, "json_invalid");
        assert_eq!(err.errors[0].field(), "body -> 6");
        let err = parse_body(b"").unwrap_err();
        assert_eq!(err.errors[0].field(), "body");
        assert_eq!(err.errors[0].kind, "missing");
    }

    #[test]
    fn literal_errors_list_the_choices() {
        let e = literal_error(&["body".into()], &["a", "b", "c"]);
        assert_eq!(e.message, "Input should be 'a', 'b' or 'c'");
    }
}
