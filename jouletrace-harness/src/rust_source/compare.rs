//! Output comparison for Rust candidates: the job's [`Comparison`] modes with the Python host's
//! semantics (`python/host.py`: `outputs_equal`), written once in Rust.
//!
//! Both sides are first put in one value model, [`Val`], that keeps the distinctions the
//! Python rule makes: the expected output is JSON (`null`, bool, int, float, string, list,
//! object), the actual one a Rust value mapped as a Python function's result would be (`()` and
//! `None` → `None`, integers → int, floats → float, `char`/`String` → str, `Vec` → list, a tuple
//! → tuple, `HashMap`/`BTreeMap<String, _>` → dict, `Some(x)` → `x`). Then:
//!
//! - `predecessor`: `None` equals only `None`; values of different types differ unless both
//!   are numbers (bool counts as int); floats (and int/float pairs) within `abs_tol` or
//!   `rel_tol` × the larger magnitude, NaN = NaN, ±inf exact; lists element-wise; dicts by equal
//!   key sets then values. So a tuple is not a list.
//! - `lenient`: as `predecessor`, plus a tuple equals a list element-wise (dict keys are always
//!   strings here, so the key rule has nothing to add).
//! - `exact`: equal values of equal types, no tolerance (`1` ≠ `1.0`, `true` ≠ `1`); NaN = NaN.
//! - `tolerance`: numbers of any kind within the tolerances at any depth, any sequence equals a
//!   list element-wise, dicts by keys then values, the rest as `exact`.
//!
//! `custom` (a validator in the candidate's language) is refused for Rust candidates before
//! anything is built (`rust_source::prepare`).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::job::Comparison;

/// A value as the comparison sees it (Python's types, as the host compares them).
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    None,
    Bool(bool),
    /// Exact. JSON integers beyond 64 bits arrive as floats (serde_json's rule).
    Int(i128),
    Float(f64),
    Str(String),
    List(Vec<Val>),
    /// What a Rust tuple returns: not a list, except under `lenient` and `tolerance`.
    Tuple(Vec<Val>),
    Dict(BTreeMap<String, Val>),
}

impl Val {
    /// The JSON value as a Python `json.loads` would give it.
    pub fn from_json(text: &str) -> Result<Val, serde_json::Error> {
        serde_json::from_str(text)
    }

    fn is_number(&self) -> bool {
        matches!(self, Val::Bool(_) | Val::Int(_) | Val::Float(_))
    }

    fn as_f64(&self) -> f64 {
        match self {
            Val::Bool(b) => f64::from(u8::from(*b)),
            Val::Int(i) => *i as f64,
            Val::Float(f) => *f,
            _ => f64::NAN,
        }
    }

    fn as_int(&self) -> Option<i128> {
        match self {
            Val::Bool(b) => Some(i128::from(*b)),
            Val::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// Python's `type(x)`, as far as the rules tell types apart.
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
        }
    }

    /// A list or a tuple (Python's `collections.abc.Sequence`, strings aside).
    fn as_sequence(&self) -> Option<&[Val]> {
        match self {
            Val::List(v) | Val::Tuple(v) => Some(v),
            _ => None,
        }
    }
}

/// Whether `actual` is accepted for `expected` under `rule`. `custom` accepts nothing: it is
/// refused for Rust candidates before a build.
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

/// Two numbers (bool as int): exact for two integers, within the tolerances otherwise.
fn numbers_equal(expected: &Val, actual: &Val, abs_tol: f64, rel_tol: f64) -> bool {
    match (expected.as_int(), actual.as_int()) {
        (Some(e), Some(a)) => e == a,
        _ => floats_equal(expected.as_f64(), actual.as_f64(), abs_tol, rel_tol),
    }
}

fn predecessor(expected: &Val, actual: &Val, abs_tol: f64, rel_tol: f64, lenient: bool) -> bool {
    let recurse = |e: &Val, a: &Val| predecessor(e, a, abs_tol, rel_tol, lenient);
    match (expected, actual) {
        (Val::None, _) | (_, Val::None) => expected == actual,
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
        (Val::Dict(e), Val::Dict(a)) => dicts(e, a, recurse),
        _ => expected == actual,
    }
}

fn exact(expected: &Val, actual: &Val) -> bool {
    match (expected, actual) {
        _ if expected.kind() != actual.kind() => false,
        (Val::Float(e), Val::Float(a)) => (e.is_nan() && a.is_nan()) || e == a,
        (Val::List(e), Val::List(a)) | (Val::Tuple(e), Val::Tuple(a)) => elementwise(e, a, exact),
        (Val::Dict(e), Val::Dict(a)) => dicts(e, a, exact),
        _ => expected == actual,
    }
}

fn tolerance(expected: &Val, actual: &Val, abs_tol: f64, rel_tol: f64) -> bool {
    let recurse = |e: &Val, a: &Val| tolerance(e, a, abs_tol, rel_tol);
    if expected.is_number() && actual.is_number() {
        return numbers_equal(expected, actual, abs_tol, rel_tol);
    }
    match (expected, actual) {
        (Val::List(e), a) if a.as_sequence().is_some() => {
            elementwise(e, a.as_sequence().unwrap_or_default(), recurse)
        }
        (Val::Dict(e), Val::Dict(a)) => dicts(e, a, recurse),
        _ => exact(expected, actual),
    }
}

fn elementwise(expected: &[Val], actual: &[Val], equal: impl Fn(&Val, &Val) -> bool) -> bool {
    expected.len() == actual.len() && expected.iter().zip(actual).all(|(e, a)| equal(e, a))
}

fn dicts(
    expected: &BTreeMap<String, Val>,
    actual: &BTreeMap<String, Val>,
    equal: impl Fn(&Val, &Val) -> bool,
) -> bool {
    expected.len() == actual.len()
        && expected
            .iter()
            .all(|(k, e)| actual.get(k).is_some_and(|a| equal(e, a)))
}

impl<'de> Deserialize<'de> for Val {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Val, D::Error> {
        d.deserialize_any(ValVisitor)
    }
}

struct ValVisitor;

impl<'de> Visitor<'de> for ValVisitor {
    type Value = Val;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Val, E> {
        Ok(Val::None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Val, E> {
        Ok(Val::None)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Val, E> {
        Ok(Val::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Val, E> {
        Ok(Val::Int(i128::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Val, E> {
        Ok(Val::Int(i128::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Val, E> {
        Ok(Val::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Val, E> {
        Ok(Val::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Val, E> {
        Ok(Val::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Val, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element()? {
            items.push(v);
        }
        Ok(Val::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Val, A::Error> {
        // A repeated key keeps its last value, as Python's json does.
        let mut items = BTreeMap::new();
        while let Some((k, v)) = map.next_entry::<String, Val>()? {
            items.insert(k, v);
        }
        Ok(Val::Dict(items))
    }
}

/// A Rust value as the comparison sees it: the result of a candidate's call.
pub trait ToVal {
    fn to_val(&self) -> Val;
}

macro_rules! int_to_val {
    ($($t:ty),*) => {$(
        impl ToVal for $t {
            fn to_val(&self) -> Val {
                // Every supported integer but u128 above i128::MAX fits; that one is compared as
                // a float, as JSON integers beyond 64 bits already are.
                i128::try_from(*self).map_or_else(|_| Val::Float(*self as f64), Val::Int)
            }
        }
    )*};
}
int_to_val!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize
);

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

impl<T: ToVal, S> ToVal for std::collections::HashMap<String, T, S> {
    fn to_val(&self) -> Val {
        Val::Dict(self.iter().map(|(k, v)| (k.clone(), v.to_val())).collect())
    }
}

impl<T: ToVal> ToVal for BTreeMap<String, T> {
    fn to_val(&self) -> Val {
        Val::Dict(self.iter().map(|(k, v)| (k.clone(), v.to_val())).collect())
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
