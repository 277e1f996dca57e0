//! Output comparison: the job's [`Comparison`] modes with the Python host's semantics, written
//! once in Rust, for Rust candidates and — since protocol 3 — for Python candidates, whose host
//! reports each output as a tagged value ([`wire`]) and never judges it.
//!
//! Both sides are first put in one value model, [`Val`], that keeps the distinctions the
//! Python rule makes: the expected output is JSON (`null`, bool, int of any size, float,
//! string, list, object), read as Python's `json.loads` reads it ([`Val::from_json`]); the
//! actual one is a Python value as its host reports it ([`wire::decode`]), or a Rust value
//! mapped as a Python function's result would be ([`ToVal`]: `()` and `None` → `None`,
//! integers → int, floats → float, `char`/`String` → str, `Vec` → list, a tuple → tuple,
//! `HashMap`/`BTreeMap<String, _>` → dict, `Some(x)` → `x`). Then:
//!
//! - `predecessor`: `None` equals only `None`; values of different types differ unless both
//!   are numbers (bool counts as int); floats (and int/float pairs) within `abs_tol` or
//!   `rel_tol` × the larger magnitude, NaN = NaN, ±inf exact; lists element-wise; dicts by equal
//!   key sets then values. So a tuple is not a list, and an int key is not JSON's string key.
//! - `lenient`: as `predecessor`, plus any sequence (tuple, deque, a list subclass…) equals a
//!   list element-wise, and a dict key equals its JSON text (`{0: "a"}` equals `{"0": "a"}`).
//! - `exact`: equal values of equal types, no tolerance (`1` ≠ `1.0`, `true` ≠ `1`); NaN = NaN.
//! - `tolerance`: numbers of any kind within the tolerances at any depth, any sequence equals a
//!   list element-wise, any dict (a `Counter` too) by keys then values, the rest as `exact`.
//!
//! A value the model cannot represent faithfully ([`Val::Other`]: a `Fraction`, a generator, an
//! object with its own `__eq__`…) or that was cut for size ([`Val::Cut`]) equals nothing: the
//! old in-process comparison asked such objects whether they were equal, which is how an
//! "always equal" object passed. `custom` (a validator in the candidate's language) is refused
//! for Rust candidates before anything is built (`rust_source::prepare`), and runs in the
//! Python host (`docs/python.md`).

use std::collections::{BTreeMap, HashMap};

use serde_json::value::RawValue;

use crate::job::Comparison;

pub mod render;
pub mod wire;

/// An integer of any size, exact: its decimal digits, normalized (no leading zeros, `-` only
/// before a non-zero value), as Python's ints are compared (never through a float).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Int(String);

impl Int {
    /// `[-]digits` (JSON's integer syntax, leading zeros tolerated); `None` otherwise.
    pub fn parse(text: &str) -> Option<Int> {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits = digits.trim_start_matches('0');
        Some(if digits.is_empty() {
            Int("0".to_owned())
        } else if negative {
            Int(format!("-{digits}"))
        } else {
            Int(digits.to_owned())
        })
    }

    /// The decimal text (`-123`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Python's `float(int)`: correctly rounded; `None` where Python raises `OverflowError`.
    pub fn to_f64(&self) -> Option<f64> {
        self.0.parse::<f64>().ok().filter(|f| f.is_finite())
    }
}

impl From<i128> for Int {
    fn from(v: i128) -> Int {
        Int(v.to_string())
    }
}

impl From<u128> for Int {
    fn from(v: u128) -> Int {
        Int(v.to_string())
    }
}

/// A value as the comparison sees it (Python's types, as far as the rules tell them apart).
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    None,
    Bool(bool),
    /// Exact, any size.
    Int(Int),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Val>),
    /// A Python tuple, or what a Rust tuple returns: not a list, except under `lenient` and
    /// `tolerance`.
    Tuple(Vec<Val>),
    /// Keys and values in insertion order (keys are any value: a Python dict's key types are
    /// kept, so `{0: …}` is not `{"0": …}`).
    Dict(Vec<(Val, Val)>),
    Set(Vec<Val>),
    FrozenSet(Vec<Val>),
    /// An instance of a subclass of int, float, list, tuple or dict, or another sequence type
    /// (`deque`, `range`, a named tuple, `Counter`, an `IntEnum`…): `base` is its value as the
    /// built-in type the rules may treat it as (a number, a sequence, a dict). Never the same
    /// type as a JSON value.
    Derived {
        type_name: String,
        base: Box<Val>,
    },
    /// Anything else, with its (bounded) `repr`: equals nothing.
    Other {
        type_name: String,
        repr: String,
    },
    /// Cut by the host's bounds (nested too deep, too large), saying which: equals nothing.
    Cut {
        reason: String,
    },
}

/// Why an expected output cannot be read (it is refused before any host starts).
#[derive(Debug, thiserror::Error)]
#[error("unreadable JSON value: {0}")]
pub struct JsonError(String);

impl Val {
    /// The JSON value as Python's `json.loads` gives it: integers of any size stay exact
    /// (serde_json would turn those beyond 64 bits into floats), floats are correctly rounded,
    /// a repeated object key keeps its last value.
    pub fn from_json(text: &str) -> Result<Val, JsonError> {
        let raw: &RawValue = serde_json::from_str(text).map_err(|e| JsonError(e.to_string()))?;
        Val::from_raw(raw)
    }

    fn from_raw(raw: &RawValue) -> Result<Val, JsonError> {
        let text = raw.get().trim();
        let bad = |e: serde_json::Error| JsonError(e.to_string());
        Ok(match text.as_bytes().first() {
            Some(b'[') => {
                let items: Vec<&RawValue> = serde_json::from_str(text).map_err(bad)?;
                Val::List(
                    items
                        .into_iter()
                        .map(Val::from_raw)
                        .collect::<Result<_, _>>()?,
                )
            }
            Some(b'{') => {
                let entries: Vec<(String, &RawValue)> =
                    serde_json::from_str::<Entries<'_>>(text).map_err(bad)?.0;
                let mut items: Vec<(Val, Val)> = Vec::with_capacity(entries.len());
                let mut at: HashMap<String, usize> = HashMap::new();
                for (k, v) in entries {
                    let v = Val::from_raw(v)?;
                    match at.get(&k) {
                        Some(&i) => items[i].1 = v,
                        None => {
                            at.insert(k.clone(), items.len());
                            items.push((Val::Str(k), v));
                        }
                    }
                }
                Val::Dict(items)
            }
            Some(b'"') => Val::Str(serde_json::from_str(text).map_err(bad)?),
            Some(b't') => Val::Bool(true),
            Some(b'f') => Val::Bool(false),
            Some(b'n') => Val::None,
            _ => match Int::parse(text) {
                Some(i) => Val::Int(i),
                None => Val::Float(
                    text.parse::<f64>()
                        .map_err(|e| JsonError(format!("{text}: {e}")))?,
                ),
            },
        })
    }

    fn is_number(&self) -> bool {
        match self {
            Val::Bool(_) | Val::Int(_) | Val::Float(_) => true,
            Val::Derived { base, .. } => base.is_number(),
            _ => false,
        }
    }

    /// Python's `isinstance(x, float)` for a number.
    fn is_float(&self) -> bool {
        match self {
            Val::Float(_) => true,
            Val::Derived { base, .. } => base.is_float(),
            _ => false,
        }
    }

    /// Python's `float(x)`; `None` where it raises (an int beyond a float's range).
    fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Bool(b) => Some(f64::from(u8::from(*b))),
            Val::Int(i) => i.to_f64(),
            Val::Float(f) => Some(*f),
            Val::Derived { base, .. } => base.as_f64(),
            _ => None,
        }
    }

    /// Python's `int(x)` for an integer (bool counts).
    fn as_int(&self) -> Option<Int> {
        match self {
            Val::Bool(b) => Some(Int::from(i128::from(*b))),
            Val::Int(i) => Some(i.clone()),
            Val::Derived { base, .. } => base.as_int(),
            _ => None,
        }
    }

    /// Python's `type(x)`, as far as the rules tell types apart (a derived type is its own).
    fn kind(&self) -> u8 {
        match self {
            Val::None => 0,
            Val::Bool(_) => 1,
            Val::Int(_) => 2,
            Val::Float(_) => 3,
            Val::Str(_) => 4,
            Val::List(_) => 5,
            Val::Tuple(_) => 6,
            Val::Dict(_) => 7,
            Val::Bytes(_) => 8,
            Val::Set(_) => 9,
            Val::FrozenSet(_) => 10,
            Val::Derived { .. } => 11,
            Val::Other { .. } => 12,
            Val::Cut { .. } => 13,
        }
    }

    /// A list, a tuple or another sequence (Python's `collections.abc.Sequence`, strings and
    /// bytes aside).
    fn as_sequence(&self) -> Option<&[Val]> {
        match self {
            Val::List(v) | Val::Tuple(v) => Some(v),
            Val::Derived { base, .. } => base.as_sequence(),
            _ => None,
        }
    }

    /// A dict or an instance of a dict subclass (Python's `isinstance(x, dict)`).
    fn as_dict(&self) -> Option<&[(Val, Val)]> {
        match self {
            Val::Dict(d) => Some(d),
            Val::Derived { base, .. } => base.as_dict(),
            _ => None,
        }
    }

    /// Equal to nothing, itself included.
    fn is_opaque(&self) -> bool {
        matches!(self, Val::Other { .. } | Val::Cut { .. })
    }
}

/// An object's entries in document order, repeats kept (a map would keep only one).
struct Entries<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Entries<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Entries<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, &'a RawValue>()? {
                    out.push(entry);
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// Whether `actual` is accepted for `expected` under `rule`. `custom` accepts nothing here: it
/// is refused for Rust candidates before a build, and a Python host runs it itself.
pub fn outputs_equal(expected: &Val, actual: &Val, rule: &Comparison) -> bool {
    match rule {
        Comparison::Predecessor { abs_tol, rel_tol } => {
            predecessor(expected, actual, *abs_tol, *rel_tol, false)
        }
        Comparison::Lenient { abs_tol, rel_tol } => {
            predecessor(expected, actual, *abs_tol, *rel_tol, true)
        }
        Comparison::Exact => exact(expected, actual),
        Comparison::Tolerance { abs_tol, rel_tol } => {
            tolerance(expected, actual, *abs_tol, *rel_tol)
        }
        Comparison::Custom { .. } => false,
    }
}

fn floats_equal(expected: f64, actual: f64, abs_tol: f64, rel_tol: f64) -> bool {
    if expected.is_nan() && actual.is_nan() {
        return true;
    }
    if expected.is_infinite() || actual.is_infinite() {
        return expected == actual;
    }
    let diff = (expected - actual).abs();
    diff <= abs_tol || diff <= rel_tol * expected.abs().max(actual.abs())
}

/// Two numbers (bool as int): exact for two integers, within the tolerances when either is a
/// float. An integer too large for a float never equals one (Python raised `OverflowError`).
fn numbers_equal(expected: &Val, actual: &Val, abs_tol: f64, rel_tol: f64) -> bool {
    if expected.is_float() || actual.is_float() {
        return match (expected.as_f64(), actual.as_f64()) {
            (Some(e), Some(a)) => floats_equal(e, a, abs_tol, rel_tol),
            _ => false,
        };
    }
    expected.as_int() == actual.as_int()
}

fn predecessor(expected: &Val, actual: &Val, abs_tol: f64, rel_tol: f64, lenient: bool) -> bool {
    let recurse = |e: &Val, a: &Val| predecessor(e, a, abs_tol, rel_tol, lenient);
    match (expected, actual) {
        (Val::None, _) | (_, Val::None) => expected == actual,
        _ if expected.is_opaque() || actual.is_opaque() => false,
        _ if expected.kind() != actual.kind() => {
            if expected.is_number() && actual.is_number() {
                return numbers_equal(expected, actual, abs_tol, rel_tol);
            }
            match (expected, actual.as_sequence()) {
                (Val::List(e), Some(a)) if lenient => elementwise(e, a, recurse),
                _ => false,
            }
        }
        (Val::Float(e), Val::Float(a)) => floats_equal(*e, *a, abs_tol, rel_tol),
        (Val::List(e), Val::List(a)) | (Val::Tuple(e), Val::Tuple(a)) => elementwise(e, a, recurse),
        (Val::Dict(e), Val::Dict(a)) => {
            if lenient {
                dicts(e, &json_keys(a), recurse)
            } else {
                dicts(e, a, recurse)
            }
        }
        _ => same(expected, actual),
    }
}

fn exact(expected: &Val, actual: &Val) -> bool {
    match (expected, actual) {
        _ if expected.is_opaque() || actual.is_opaque() => false,
        _ if expected.kind() != actual.kind() => false,
        (Val::Float(e), Val::Float(a)) => (e.is_nan() && a.is_nan()) || e == a,
        (Val::List(e), Val::List(a)) | (Val::Tuple(e), Val::Tuple(a)) => elementwise(e, a, exact),
        (Val::Dict(e), Val::Dict(a)) => dicts(e, a, exact),
        _ => same(expected, actual),
    }
}

fn tolerance(expected: &Val, actual: &Val, abs_tol: f64, rel_tol: f64) -> bool {
    let recurse = |e: &Val, a: &Val| tolerance(e, a, abs_tol, rel_tol);
    if expected.is_opaque() || actual.is_opaque() {
        return false;
    }
    if expected.is_number() && actual.is_number() {
        return numbers_equal(expected, actual, abs_tol, rel_tol);
    }
    match (expected, actual.as_sequence(), actual.as_dict()) {
        (Val::List(e), Some(a), _) => elementwise(e, a, recurse),
        (Val::Dict(e), _, Some(a)) => dicts(e, a, recurse),
        _ => exact(expected, actual),
    }
}

/// Python's `expected == actual` for two values of the same kind that no rule above takes
/// apart (bools, ints, strings, bytes, sets, two values of one derived type).
fn same(expected: &Val, actual: &Val) -> bool {
    match (expected, actual) {
        (Val::Set(e), Val::Set(a)) | (Val::FrozenSet(e), Val::FrozenSet(a)) => {
            e.len() == a.len() && e.iter().all(|x| a.iter().any(|y| key_eq(x, y)))
        }
        (
            Val::Derived {
                type_name: te,
                base: e,
            },
            Val::Derived {
                type_name: ta,
                base: a,
            },
        ) => te == ta && exact(e, a),
        _ => expected == actual,
    }
}

fn elementwise(expected: &[Val], actual: &[Val], equal: impl Fn(&Val, &Val) -> bool) -> bool {
    expected.len() == actual.len() && expected.iter().zip(actual).all(|(e, a)| equal(e, a))
}

/// Python's `set(e.keys()) == set(a.keys()) and all(equal(e[k], a[k]) for k in e)`. Keys
/// within one dict are distinct, so equal sizes and every expected key found suffice.
fn dicts(
    expected: &[(Val, Val)],
    actual: &[(Val, Val)],
    equal: impl Fn(&Val, &Val) -> bool,
) -> bool {
    if expected.len() != actual.len() {
        return false;
    }
    // String keys (all of JSON's) are looked up by hash; others one by one.
    let by_str: HashMap<&str, &Val> = actual
        .iter()
        .filter_map(|(k, v)| match k {
            Val::Str(s) => Some((s.as_str(), v)),
            _ => None,
        })
        .collect();
    expected.iter().all(|(k, e)| {
        let found = match k {
            Val::Str(s) => by_str.get(s.as_str()).copied(),
            _ => actual.iter().find(|(ak, _)| key_eq(k, ak)).map(|(_, v)| v),
        };
        found.is_some_and(|a| equal(e, a))
    })
}

/// Python's equality of two hashable keys (`1 == 1.0 == True`; strings, bytes, `None`, tuples
/// of keys); anything else is never equal.
fn key_eq(a: &Val, b: &Val) -> bool {
    if a.is_opaque() || b.is_opaque() {
        return false;
    }
    if a.is_number() && b.is_number() {
        return numbers_equal(a, b, 0.0, 0.0) && !(a.as_f64().is_some_and(f64::is_nan));
    }
    match (a, b) {
        (Val::Tuple(x), Val::Tuple(y)) => elementwise(x, y, key_eq),
        (Val::FrozenSet(_), Val::FrozenSet(_)) => same(a, b),
        _ if a.kind() != b.kind() => false,
        _ => a == b,
    }
}

/// The lenient rule's `{json_key(k): v for k, v in actual.items()}`: each key as the text JSON
/// would write for it; a later key that writes the same text replaces the earlier value.
fn json_keys(actual: &[(Val, Val)]) -> Vec<(Val, Val)> {
    let mut out: Vec<(Val, Val)> = Vec::with_capacity(actual.len());
    let mut at: HashMap<String, usize> = HashMap::new();
    for (k, v) in actual {
        match json_key(k) {
            Some(text) => match at.get(&text) {
                Some(&i) => out[i].1 = v.clone(),
                None => {
                    at.insert(text.clone(), out.len());
                    out.push((Val::Str(text), v.clone()));
                }
            },
            None => out.push((k.clone(), v.clone())),
        }
    }
    out
}

/// `json.dumps`'s text for a non-string key (`true`, `null`, `1.5`, `NaN`, `7`); `None` for a
/// key JSON cannot write (a tuple…), which stays as it is.
fn json_key(key: &Val) -> Option<String> {
    Some(match key {
        Val::Str(s) => s.clone(),
        Val::Bool(true) => "true".into(),
        Val::Bool(false) => "false".into(),
        Val::None => "null".into(),
        Val::Float(f) => render::json_float(*f),
        Val::Int(i) => i.as_str().to_owned(),
        Val::Derived { base, .. } if base.is_number() => json_key(base)?,
        _ => return None,
    })
}

/// A Rust value as the comparison sees it: the result of a candidate's call.
pub trait ToVal {
    fn to_val(&self) -> Val;
}

macro_rules! int_to_val {
    ($($t:ty),*) => {$(
        impl ToVal for $t {
            fn to_val(&self) -> Val {
                Val::Int(Int::from(i128::from(*self)))
            }
        }
    )*};
}
int_to_val!(i8, i16, i32, i64, i128, u8, u16, u32, u64);

impl ToVal for isize {
    fn to_val(&self) -> Val {
        Val::Int(Int(self.to_string()))
    }
}

impl ToVal for usize {
    fn to_val(&self) -> Val {
        Val::Int(Int(self.to_string()))
    }
}

impl ToVal for u128 {
    fn to_val(&self) -> Val {
        Val::Int(Int::from(*self))
    }
}

impl ToVal for f64 {
    fn to_val(&self) -> Val {
        Val::Float(*self)
    }
}

impl ToVal for f32 {
    fn to_val(&self) -> Val {
        Val::Float(f64::from(*self))
    }
}

impl ToVal for bool {
    fn to_val(&self) -> Val {
        Val::Bool(*self)
    }
}

impl ToVal for char {
    fn to_val(&self) -> Val {
        Val::Str(self.to_string())
    }
}

impl ToVal for String {
    fn to_val(&self) -> Val {
        Val::Str(self.clone())
    }
}

impl ToVal for () {
    fn to_val(&self) -> Val {
        Val::None
    }
}

impl<T: ToVal> ToVal for Vec<T> {
    fn to_val(&self) -> Val {
        Val::List(self.iter().map(ToVal::to_val).collect())
    }
}

impl<T: ToVal> ToVal for Option<T> {
    fn to_val(&self) -> Val {
        self.as_ref().map_or(Val::None, ToVal::to_val)
    }
}

impl<T: ToVal, S> ToVal for HashMap<String, T, S> {
    fn to_val(&self) -> Val {
        // Sorted, so that messages show one order.
        let sorted: BTreeMap<&String, &T> = self.iter().collect();
        Val::Dict(
            sorted
                .into_iter()
                .map(|(k, v)| (Val::Str(k.clone()), v.to_val()))
                .collect(),
        )
    }
}

impl<T: ToVal> ToVal for BTreeMap<String, T> {
    fn to_val(&self) -> Val {
        Val::Dict(
            self.iter()
                .map(|(k, v)| (Val::Str(k.clone()), v.to_val()))
                .collect(),
        )
    }
}

macro_rules! tuple_to_val {
    ($($name:ident $idx:tt),+) => {
        impl<$($name: ToVal),+> ToVal for ($($name,)+) {
            fn to_val(&self) -> Val {
                Val::Tuple(vec![$(self.$idx.to_val()),+])
            }
        }
    };
}
tuple_to_val!(A 0);
tuple_to_val!(A 0, B 1);
tuple_to_val!(A 0, B 1, C 2);
tuple_to_val!(A 0, B 1, C 2, D 3);
tuple_to_val!(A 0, B 1, C 2, D 3, E 4);
tuple_to_val!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_to_val!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_to_val!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

#[cfg(test)]
mod tests;
