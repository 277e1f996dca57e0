//! The predecessor's request bodies (`EnergyMeasurementRequest`, `QuickValidationRequest`),
//! with its defaults, limits and lax coercions.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use super::validate::{
    self, FieldError, Fields, Kind, Loc, RequestErrors, kind, literal_error, parse_body,
    value_error,
};

/// Defaults and inclusive limits of the numeric fields, the predecessor's (`schemas.py`).
pub mod limits {
    /// A numeric field's default and inclusive bounds (`None`: no upper bound).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct IntField {
        pub default: i64,
        pub min: i64,
        pub max: Option<i64>,
    }

    pub const TIMEOUT_SECONDS: IntField = IntField {
        default: 30,
        min: 1,
        max: Some(300),
    };
    /// `/validate`'s timeout: shorter, and a `/measure` body with more than 60 s is refused there.
    pub const VALIDATE_TIMEOUT_SECONDS: IntField = IntField {
        default: 10,
        min: 1,
        max: Some(60),
    };
    pub const MEMORY_LIMIT_MB: IntField = IntField {
        default: 512,
        min: 64,
        max: Some(8192),
    };
    pub const ENERGY_MEASUREMENT_TRIALS: IntField = IntField {
        default: 5,
        min: 1,
        max: Some(20),
    };
    pub const WARMUP_TRIALS: IntField = IntField {
        default: 2,
        min: 0,
        max: Some(10),
    };
    pub const CPU_CORE_MIN: i64 = 0;
    pub const THERMAL_WAIT_SECONDS_DEFAULT: f64 = 5.0;
    pub const THERMAL_WAIT_SECONDS_MIN: i64 = 0;
    pub const THERMAL_WAIT_SECONDS_MAX: i64 = 60;
    pub const FUNCTION_NAME_DEFAULT: &str = "solve";
}

use limits::IntField;

/// How outputs are compared with the expected ones (an extension field, `comparison`; the
/// predecessor's clients never send it and get its rule).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComparisonMode {
    /// The predecessor's rule: type-strict (tuple ≠ list, set ≠ list), bool compares as int,
    /// int/float within 1e-9 absolute or relative, NaN equals NaN, dict keys exact.
    #[default]
    Predecessor,
    /// The predecessor's rule, plus what JSON cannot express: a tuple (or other sequence)
    /// matches a list element-wise, and an int/float dict key matches its JSON string form.
    Lenient,
}

impl ComparisonMode {
    const NAMES: [&'static str; 2] = ["predecessor", "lenient"];

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "predecessor" => Some(ComparisonMode::Predecessor),
            "lenient" => Some(ComparisonMode::Lenient),
            _ => None,
        }
    }
}

/// One test case (`TestCaseRequest`). `inputs` and `expected_output` are raw JSON, kept
/// exactly as sent (big integers included); either may be `null`.
#[derive(Clone, Debug, Serialize)]
pub struct TestCaseRequest {
    pub test_id: String,
    /// A JSON array is spread as positional arguments, an object as keyword arguments,
    /// anything else is the single argument.
    pub inputs: Box<RawValue>,
    pub expected_output: Box<RawValue>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl PartialEq for TestCaseRequest {
    /// Raw values compare by their JSON meaning, not their spelling (whitespace, key order).
    fn eq(&self, other: &Self) -> bool {
        let value = |r: &RawValue| serde_json::from_str::<serde_json::Value>(r.get()).ok();
        self.test_id == other.test_id
            && self.metadata == other.metadata
            && (self.inputs.get() == other.inputs.get()
                || value(&self.inputs) == value(&other.inputs))
            && (self.expected_output.get() == other.expected_output.get()
                || value(&self.expected_output) == value(&other.expected_output))
    }
}

/// `POST /api/v1/measure`'s body (`EnergyMeasurementRequest`), accepted unchanged.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MeasureRequest {
    pub candidate_code: String,
    /// Never empty.
    pub test_cases: Vec<TestCaseRequest>,
    pub function_name: String,
    /// Wall-clock limit, applied from outside the candidate's process (see [`Self::timeout`]).
    pub timeout_seconds: u32,
    pub memory_limit_mb: u32,
    /// A floor on the engine's samples, not a promise to stop at a noisy answer.
    pub energy_measurement_trials: u32,
    /// Warm-up samples, discarded.
    pub warmup_trials: u32,
    /// Accepted for compatibility; the engine chooses and pins CPUs itself.
    pub cpu_core: Option<u64>,
    /// Accepted for compatibility; the engine's idle baseline replaces the thermal wait.
    pub thermal_wait_seconds: Option<f64>,
    pub candidate_id: Option<String>,
    pub problem_name: Option<String>,
    /// Extension: how outputs are compared (default: the predecessor's rule).
    pub comparison: ComparisonMode,
    /// Extension: the host class (`hc-` and 12 hex digits, as results and `/api/v1/health`
    /// show it) whose hosts alone may measure this job; `None`: any host.
    pub host_class: Option<String>,
}

/// `POST /api/v1/validate`'s body (`QuickValidationRequest`): no measurement, a shorter
/// timeout (default 10 s, at most 60), and no non-empty check on `test_cases` (as before).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QuickValidationRequest {
    pub candidate_code: String,
    pub test_cases: Vec<TestCaseRequest>,
    pub function_name: String,
    pub timeout_seconds: u32,
    /// Extension, as in [`MeasureRequest`].
    pub comparison: ComparisonMode,
}

impl MeasureRequest {
    /// Parses and validates a request body, reporting every field error at once.
    pub fn parse(body: &[u8]) -> Result<Self, RequestErrors> {
        Self::from_raw(parse_body(body)?)
    }

    /// Validates an already parsed JSON value (a line of a JSON Lines file, say).
    pub fn from_raw(raw: &RawValue) -> Result<Self, RequestErrors> {
        body_model(raw, |mut f| {
            let candidate_code = f.required_string("candidate_code");
            let test_cases = test_cases(&mut f, true);
            let function_name = f.string_or("function_name", limits::FUNCTION_NAME_DEFAULT);
            let timeout_seconds = int_field(&mut f, "timeout_seconds", limits::TIMEOUT_SECONDS);
            let memory_limit_mb = int_field(&mut f, "memory_limit_mb", limits::MEMORY_LIMIT_MB);
            let trials = int_field(
                &mut f,
                "energy_measurement_trials",
                limits::ENERGY_MEASUREMENT_TRIALS,
            );
            let warmup_trials = int_field(&mut f, "warmup_trials", limits::WARMUP_TRIALS);
            let cpu_core = f.optional_int("cpu_core", limits::CPU_CORE_MIN, None);
            let thermal_wait_seconds = f.optional_float_or(
                "thermal_wait_seconds",
                limits::THERMAL_WAIT_SECONDS_DEFAULT,
                limits::THERMAL_WAIT_SECONDS_MIN,
                limits::THERMAL_WAIT_SECONDS_MAX,
            );
            let candidate_id = f.optional_string("candidate_id");
            let problem_name = f.optional_string("problem_name");
            let comparison = comparison(&mut f);
            let host_class = host_class(&mut f);
            Some(MeasureRequest {
                candidate_code: candidate_code?,
                test_cases: test_cases?,
                function_name: function_name?,
                timeout_seconds: timeout_seconds?,
                memory_limit_mb: memory_limit_mb?,
                energy_measurement_trials: trials?,
                warmup_trials: warmup_trials?,
                cpu_core: cpu_core?.map(|c| c as u64),
                thermal_wait_seconds: thermal_wait_seconds?,
                candidate_id: candidate_id?,
                problem_name: problem_name?,
                comparison: comparison?,
                host_class: host_class?,
            })
        })
    }

    /// The wall-clock limit per worker, enforced from outside the candidate's process.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.timeout_seconds))
    }

    /// The same candidate and cases as a `/validate` request (the timeout kept as given).
    pub fn to_validation(&self) -> QuickValidationRequest {
        QuickValidationRequest {
            candidate_code: self.candidate_code.clone(),
            test_cases: self.test_cases.clone(),
            function_name: self.function_name.clone(),
            timeout_seconds: self.timeout_seconds,
            comparison: self.comparison,
        }
    }
}

impl QuickValidationRequest {
    pub fn parse(body: &[u8]) -> Result<Self, RequestErrors> {
        Self::from_raw(parse_body(body)?)
    }

    pub fn from_raw(raw: &RawValue) -> Result<Self, RequestErrors> {
        body_model(raw, |mut f| {
            let candidate_code = f.required_string("candidate_code");
            let test_cases = test_cases(&mut f, false);
            let function_name = f.string_or("function_name", limits::FUNCTION_NAME_DEFAULT);
            let timeout_seconds =
                int_field(&mut f, "timeout_seconds", limits::VALIDATE_TIMEOUT_SECONDS);
            let comparison = comparison(&mut f);
            Some(QuickValidationRequest {
                candidate_code: candidate_code?,
                test_cases: test_cases?,
                function_name: function_name?,
                timeout_seconds: timeout_seconds?,
                comparison: comparison?,
            })
        })
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.timeout_seconds))
    }
}

/// Validates a body as a model: `build` reads the fields (collecting errors as it goes) and
/// returns the value when every field it needed was valid.
fn body_model<T>(
    raw: &RawValue,
    build: impl FnOnce(Fields<'_, '_>) -> Option<T>,
) -> Result<T, RequestErrors> {
    let mut errors = Vec::new();
    let model = Fields::object(raw, vec!["body".into()], &mut errors).and_then(build);
    match model {
        Some(m) if errors.is_empty() => Ok(m),
        _ => Err(RequestErrors { errors }),
    }
}

fn int_field(f: &mut Fields<'_, '_>, key: &str, field: IntField) -> Option<u32> {
    // Every bounded field's maximum fits in u32, and every minimum is ≥ 0.
    f.int_or(key, field.default, field.min, field.max)
        .map(|v| v as u32)
}

fn comparison(f: &mut Fields<'_, '_>) -> Option<ComparisonMode> {
    let Some(raw) = f.optional("comparison") else {
        return Some(ComparisonMode::default());
    };
    let name = (kind(raw) == Kind::String)
        .then(|| serde_json::from_str::<String>(raw.get()).ok())
        .flatten();
    match name.as_deref().and_then(ComparisonMode::from_name) {
        Some(mode) => Some(mode),
        None => {
            let loc = f.location("comparison");
            f.errors().push(literal_error(&loc, &ComparisonMode::NAMES));
            None
        }
    }
}

/// The pattern of a host class id (`hc-` + 12 lowercase hex digits of the class label's SHA-256).
pub const HOST_CLASS_PATTERN: &str = "^hc-[0-9a-f]{12}$";

/// Whether `id` is a well-formed host class id ([`HOST_CLASS_PATTERN`]).
pub fn is_host_class_id(id: &str) -> bool {
    id.strip_prefix("hc-").is_some_and(|hex| {
        hex.len() == 12 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// `host_class: Optional[constr(pattern=HOST_CLASS_PATTERN)]`: absent or null → any host.
fn host_class(f: &mut Fields<'_, '_>) -> Option<Option<String>> {
    match f.optional_string("host_class")? {
        Some(id) if !is_host_class_id(&id) => {
            let loc = f.location("host_class");
            f.errors().push(FieldError {
                loc,
                message: format!("String should match pattern '{HOST_CLASS_PATTERN}'"),
                kind: "string_pattern_mismatch".to_owned(),
            });
            None
        }
        id => Some(id),
    }
}

/// `test_cases: List[TestCaseRequest]`, with `/measure`'s non-empty validator when asked.
fn test_cases(f: &mut Fields<'_, '_>, non_empty: bool) -> Option<Vec<TestCaseRequest>> {
    let raw = f.required("test_cases")?;
    let loc = f.location("test_cases");
    let items = validate::list(raw, &loc, f.errors())?;
    let before = f.errors().len();
    let cases: Vec<Option<TestCaseRequest>> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let mut at = loc.clone();
            at.push(Loc::Index(i));
            test_case(item, at, f.errors())
        })
        .collect();
    if f.errors().len() > before {
        return None;
    }
    // The validator runs only on a list that parsed, as pydantic's after-validators do.
    if non_empty && cases.is_empty() {
        f.errors()
            .push(value_error(&loc, "At least one test case must be provided"));
        return None;
    }
    cases.into_iter().collect()
}

fn test_case(
    raw: &RawValue,
    loc: Vec<Loc>,
    errors: &mut Vec<FieldError>,
) -> Option<TestCaseRequest> {
    let mut f = Fields::object(raw, loc, errors)?;
    // pydantic reports in declaration order: inputs, expected_output, test_id, metadata.
    let inputs = f.required("inputs");
    let expected_output = f.required("expected_output");
    let test_id = f.required_string("test_id");
    let metadata = match f.optional("metadata") {
        None => Some(serde_json::Map::new()),
        Some(m) => {
            let loc = f.location("metadata");
            validate::dict(m, &loc, f.errors())
        }
    };
    Some(TestCaseRequest {
        test_id: test_id?,
        inputs: inputs?.to_owned(),
        expected_output: expected_output?.to_owned(),
        metadata: metadata?,
    })
}

impl<'de> Deserialize<'de> for MeasureRequest {
    /// The same lax validation as [`MeasureRequest::parse`]; the errors joined in one message.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        MeasureRequest::from_raw(&raw).map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for QuickValidationRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        QuickValidationRequest::from_raw(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const README: &str = r#"{
        "candidate_code": "def solve(nums1, nums2):\n    merged = sorted(nums1 + nums2)\n    n = len(merged)\n    return (merged[n//2-1] + merged[n//2]) / 2.0 if n % 2 == 0 else float(merged[n//2])",
        "test_cases": [
            {"inputs": [[1, 3], [2, 4]], "expected_output": 2.5, "test_id": "test_001"},
            {"inputs": [[1, 2], [3, 4]], "expected_output": 2.5, "test_id": "test_002"}
        ],
        "function_name": "solve",
        "energy_measurement_trials": 5,
        "some_future_key": {"ignored": true}
    }"#;

    fn errors(body: &str) -> Vec<(String, String, String)> {
        MeasureRequest::parse(body.as_bytes())
            .unwrap_err()
            .errors
            .into_iter()
            .map(|e| (e.field(), e.kind, e.message))
            .collect()
    }

    fn fields(body: &str) -> Vec<String> {
        errors(body)
            .into_iter()
            .map(|(f, k, _)| format!("{f}|{k}"))
            .collect()
    }

    #[test]
    fn the_readme_request_gets_the_defaults() {
        let r = MeasureRequest::parse(README.as_bytes()).unwrap();
        assert_eq!(r.function_name, "solve");
        assert_eq!(r.timeout_seconds, 30);
        assert_eq!(r.memory_limit_mb, 512);
        assert_eq!(r.energy_measurement_trials, 5);
        assert_eq!(r.warmup_trials, 2);
        assert_eq!(r.cpu_core, None);
        assert_eq!(r.thermal_wait_seconds, Some(5.0));
        assert_eq!(r.candidate_id, None);
        assert_eq!(r.comparison, ComparisonMode::Predecessor);
        assert_eq!(r.host_class, None);
        assert_eq!(r.test_cases.len(), 2);
        assert_eq!(r.test_cases[0].inputs.get(), "[[1, 3], [2, 4]]");
        assert!(r.test_cases[0].metadata.is_empty());
    }

    #[test]
    fn lax_numbers_are_coerced() {
        let r = MeasureRequest::parse(
            br#"{"candidate_code":"","test_cases":[{"test_id":"a","inputs":null,"expected_output":null}],
                "timeout_seconds":"3","memory_limit_mb":1024.0,"warmup_trials":true,
                "energy_measurement_trials":" 7 ","thermal_wait_seconds":null,"cpu_core":"2"}"#,
        )
        .unwrap();
        assert_eq!(r.timeout_seconds, 3);
        assert_eq!(r.memory_limit_mb, 1024);
        assert_eq!(r.warmup_trials, 1);
        assert_eq!(r.energy_measurement_trials, 7);
        assert_eq!(r.thermal_wait_seconds, None);
        assert_eq!(r.cpu_core, Some(2));
        assert_eq!(r.candidate_code, "");
        assert_eq!(r.test_cases[0].inputs.get(), "null");
        // Checked against pydantic 2.13: "nan" parses, then fails the upper bound only.
        assert_eq!(
            fields(
                r#"{"candidate_code":"","test_cases":[{"test_id":"a","inputs":1,"expected_output":1}],
                "thermal_wait_seconds":"nan","cpu_core":"1e3","timeout_seconds":"3.00"}"#
            ),
            [
                "body -> cpu_core|int_parsing",
                "body -> thermal_wait_seconds|less_than_equal"
            ]
        );
    }

    #[test]
    fn every_error_is_reported_in_pydantic_order() {
        let got = fields(
            r#"{"test_cases":[{"test_id":1,"metadata":[]},"x",{"inputs":1,"expected_output":2,"test_id":"ok"}],
                "function_name":null,"timeout_seconds":3.5,"memory_limit_mb":"three",
                "energy_measurement_trials":0,"warmup_trials":11,"cpu_core":-1,
                "thermal_wait_seconds":61,"candidate_id":7,"problem_name":[],"comparison":"fuzzy"}"#,
        );
        assert_eq!(
            got,
            [
                "body -> candidate_code|missing",
                "body -> test_cases -> 0 -> inputs|missing",
                "body -> test_cases -> 0 -> expected_output|missing",
                "body -> test_cases -> 0 -> test_id|string_type",
                "body -> test_cases -> 0 -> metadata|dict_type",
                "body -> test_cases -> 1|model_attributes_type",
                "body -> function_name|string_type",
                "body -> timeout_seconds|int_from_float",
                "body -> memory_limit_mb|int_parsing",
                "body -> energy_measurement_trials|greater_than_equal",
                "body -> warmup_trials|less_than_equal",
                "body -> cpu_core|greater_than_equal",
                "body -> thermal_wait_seconds|less_than_equal",
                "body -> candidate_id|string_type",
                "body -> problem_name|string_type",
                "body -> comparison|literal_error",
            ]
        );
    }

    #[test]
    fn messages_are_pydantics() {
        let got = errors(
            r#"{"candidate_code":"x","test_cases":[],"timeout_seconds":301,"memory_limit_mb":3.5}"#,
        );
        assert_eq!(
            got,
            [
                (
                    "body -> test_cases".into(),
                    "value_error".into(),
                    "Value error, At least one test case must be provided".into()
                ),
                (
                    "body -> timeout_seconds".into(),
                    "less_than_equal".into(),
                    "Input should be less than or equal to 300".into()
                ),
                (
                    "body -> memory_limit_mb".into(),
                    "int_from_float".into(),
                    "Input should be a valid integer, got a number with a fractional part".into()
                ),
            ]
        );
        let got =
            errors(r#"{"candidate_code":"x","test_cases":[{"inputs":1,"expected_output":1}]}"#);
        assert_eq!(
            got,
            [(
                "body -> test_cases -> 0 -> test_id".into(),
                "missing".into(),
                "Field required".into()
            )]
        );
    }

    #[test]
    fn a_host_class_is_an_id_or_absent() {
        let body = |class: &str| {
            format!(
                r#"{{"candidate_code":"x","test_cases":[{{"test_id":"a","inputs":1,"expected_output":1}}],"host_class":{class}}}"#
            )
        };
        let r = MeasureRequest::parse(body(r#""hc-0123456789ab""#).as_bytes()).unwrap();
        assert_eq!(r.host_class.as_deref(), Some("hc-0123456789ab"));
        assert_eq!(
            MeasureRequest::parse(body("null").as_bytes())
                .unwrap()
                .host_class,
            None
        );
        for bad in [
            "\"hc-0123\"",
            "\"HC-0123456789AB\"",
            "\"hc-0123456789ag\"",
            "\"\"",
        ] {
            assert_eq!(
                fields(&body(bad)),
                ["body -> host_class|string_pattern_mismatch"],
                "{bad}"
            );
        }
        assert_eq!(fields(&body("7")), ["body -> host_class|string_type"]);
    }

    #[test]
    fn bodies_that_are_not_objects() {
        assert_eq!(fields("[1]"), ["body|model_attributes_type"]);
        assert_eq!(fields("\"x\""), ["body|model_attributes_type"]);
        assert_eq!(fields("{\"candidate_code\": "), ["body -> 18|json_invalid"]);
        assert_eq!(fields(""), ["body|missing"]);
        assert_eq!(
            fields(r#"{"candidate_code":"x","test_cases":{}}"#),
            ["body -> test_cases|list_type"]
        );
    }

    #[test]
    fn validate_requests_have_their_own_timeout_and_accept_no_cases() {
        let r =
            QuickValidationRequest::parse(br#"{"candidate_code":"x","test_cases":[]}"#).unwrap();
        assert_eq!(r.timeout_seconds, 10);
        assert!(r.test_cases.is_empty());
        let e = QuickValidationRequest::parse(
            br#"{"candidate_code":"x","test_cases":[],"timeout_seconds":61}"#,
        )
        .unwrap_err();
        assert_eq!(e.errors[0].field(), "body -> timeout_seconds");
        assert_eq!(
            e.errors[0].message,
            "Input should be less than or equal to 60"
        );
    }

    #[test]
    fn big_integers_stay_exact_and_serde_uses_the_same_rules() {
        let body = r#"{"candidate_code":"x","test_cases":[{"test_id":"f100","inputs":100,
            "expected_output":354224848179261915075}],"timeout_seconds":"5"}"#;
        let r: MeasureRequest = serde_json::from_str(body).unwrap();
        assert_eq!(
            r.test_cases[0].expected_output.get(),
            "354224848179261915075"
        );
        assert_eq!(r.timeout_seconds, 5);
        let again: MeasureRequest =
            serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(again, r);
        let err = serde_json::from_str::<MeasureRequest>(r#"{"test_cases":[]}"#).unwrap_err();
        assert!(err.to_string().contains("body -> candidate_code"), "{err}");
    }
}
