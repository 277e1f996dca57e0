//! The OpenAPI document (`/openapi.json`) and its browser (`/docs`, Swagger UI vendored into
//! the binary: no CDN, works offline).
//!
//! The schema types below describe the wire format for the document only; requests are parsed
//! by `jouletrace::job` and responses built in `shapes`/`outcome`. `tests/api_reference.rs`
//! checks that every route of the router is documented here and in `docs/service-api.md`.

#![allow(
    dead_code,
    reason = "the documentation functions are read by utoipa's macros only"
)]

use std::sync::Arc;

use axum::Router;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};
use utoipa_swagger_ui::SwaggerUi;

use super::error::{FieldError, HttpErrorBody, ValidationErrorBody};
use crate::state::AppState;

/// One test case.
#[derive(Serialize, ToSchema)]
pub struct TestCaseRequest {
    pub test_id: String,
    /// A JSON array is spread as positional arguments, an object as keyword arguments,
    /// anything else is the single argument.
    pub inputs: serde_json::Value,
    pub expected_output: serde_json::Value,
    #[schema(default = json!({}))]
    pub metadata: Option<serde_json::Value>,
}

/// `POST /api/v1/measure`'s body: the predecessor's `EnergyMeasurementRequest`, unchanged.
#[derive(Serialize, ToSchema)]
pub struct EnergyMeasurementRequest {
    pub candidate_code: String,
    /// Non-empty; at most the server's `--max-test-cases` (1000 by default).
    pub test_cases: Vec<TestCaseRequest>,
    #[schema(default = "solve")]
    pub function_name: Option<String>,
    #[schema(default = 30, minimum = 1, maximum = 300)]
    pub timeout_seconds: Option<u32>,
    #[schema(default = 512, minimum = 64, maximum = 8192)]
    pub memory_limit_mb: Option<u32>,
    /// A floor on the engine's samples.
    #[schema(default = 5, minimum = 1, maximum = 20)]
    pub energy_measurement_trials: Option<u32>,
    #[schema(default = 2, minimum = 0, maximum = 10)]
    pub warmup_trials: Option<u32>,
    /// Accepted for compatibility; the engine pins CPUs itself.
    #[schema(minimum = 0)]
    pub cpu_core: Option<u64>,
    /// Accepted for compatibility; the idle baseline replaces the thermal wait.
    #[schema(default = 5.0, minimum = 0, maximum = 60)]
    pub thermal_wait_seconds: Option<f64>,
    pub candidate_id: Option<String>,
    pub problem_name: Option<String>,
    /// Extension: `predecessor` (default) or `lenient`.
    pub comparison: Option<String>,
    /// Extension (fleet): run only on agents of this host class (`hc-` + 12 hex digits, as
    /// results and `/api/v1/health` show it); absent or null: any agent.
    #[schema(pattern = "^hc-[0-9a-f]{12}$")]
    pub host_class: Option<String>,
}

/// `POST /api/v1/validate`'s body (`QuickValidationRequest`): timeout default 10, 1..60.
#[derive(Serialize, ToSchema)]
pub struct QuickValidationRequest {
    pub candidate_code: String,
    pub test_cases: Vec<TestCaseRequest>,
    #[schema(default = "solve")]
    pub function_name: Option<String>,
    #[schema(default = 10, minimum = 1, maximum = 60)]
    pub timeout_seconds: Option<u32>,
}

/// `POST /api/v1/batches`'s body (a bare list of requests is accepted too).
#[derive(Serialize, ToSchema)]
pub struct BatchRequest {
    pub requests: Vec<EnergyMeasurementRequest>,
    pub name: Option<String>,
    /// Fleet: the host class for every request that names none (one naming another is a 422).
    #[schema(pattern = "^hc-[0-9a-f]{12}$")]
    pub host_class: Option<String>,
}

/// 202 answer to a submission, and `GET` of a queued task.
#[derive(Serialize, ToSchema)]
pub struct TaskQueuedResponse {
    pub task_id: String,
    pub request_id: String,
    /// `queued`.
    pub status: String,
    /// A rough estimate (null on GET, as the predecessor's).
    pub estimated_completion_seconds: Option<u64>,
    pub poll_url: String,
    /// The host class the job asked for, if any.
    pub host_class_requested: Option<String>,
    /// Live agents of that class (present when a class was asked for).
    pub live_agents_of_class: Option<u64>,
    /// Present when no live agent has the class: the job waits until one joins.
    pub warning: Option<String>,
}

/// `GET` of a running task.
#[derive(Serialize, ToSchema)]
pub struct TaskRunningResponse {
    pub task_id: String,
    pub request_id: String,
    /// `running`.
    pub status: String,
    /// `initializing`, `validation`, `energy_measurement`, `finalizing`.
    pub stage: String,
    /// 0..1.
    pub progress: f64,
    /// Seconds since this attempt started.
    pub elapsed_seconds: f64,
    pub attempt: u32,
}

/// The predecessor's validation block, plus the classified failure.
#[derive(Serialize, ToSchema)]
pub struct ValidationSummary {
    pub is_correct: bool,
    pub passed_tests: u32,
    pub total_tests: u32,
    /// A percentage (100.0, 66.67), as the predecessor's.
    pub pass_rate: f64,
    /// `Failed k/N tests`, null when all pass.
    pub error_summary: Option<String>,
    /// Kind (`wrong_answer`, `timeout`, `memory_limit`, `crashed`, `panic`…), case and message.
    pub failure: Option<serde_json::Value>,
}

/// The predecessor's seven figures (J, s, W) and what they mean here: energy of one pass over
/// all test cases — the sum over test cases of the median idle-subtracted energy of one call —
/// with `provenance` saying whether it was measured or estimated.
#[derive(Serialize, ToSchema)]
pub struct EnergyMetrics {
    /// Equal to the total when the meter's ranked domain is a package; null otherwise.
    pub median_package_energy_joules: Option<f64>,
    /// Null: DRAM is never folded into the total silently.
    pub median_ram_energy_joules: Option<f64>,
    pub median_total_energy_joules: f64,
    /// Sum over test cases of the median time of one call.
    pub median_execution_time_seconds: f64,
    /// Total / number of test cases.
    pub energy_per_test_case_joules: f64,
    /// Total energy / total time: the candidate's net power.
    pub power_consumption_watts: Option<f64>,
    /// = energy_per_test_case_joules (the predecessor's definition).
    pub energy_efficiency_score: f64,
    /// `measured` or `estimated`.
    pub provenance: String,
    pub estimated: bool,
    pub idle_subtracted: bool,
    pub median_total_gross_energy_joules: f64,
    /// Sum of the per-case 95% interval bounds (conservative).
    pub median_total_energy_joules_bounds: [f64; 2],
    pub domain: Option<String>,
}

/// `GET` of a completed task.
#[derive(Serialize, ToSchema)]
pub struct TaskCompletedResponse {
    pub task_id: String,
    pub request_id: String,
    /// `completed`.
    pub status: String,
    pub candidate_id: Option<String>,
    pub problem_name: Option<String>,
    pub validation: ValidationSummary,
    pub energy_metrics: EnergyMetrics,
    /// Per test case: energy and time per call with 95% intervals, samples, flags.
    pub per_test_case: Vec<serde_json::Value>,
    /// `{meter_type, cpu_model, measurement_core, thermal_controlled, timestamp}`.
    pub measurement_environment: serde_json::Value,
    /// The meter: backend, provenance, domains, warnings.
    pub meter: serde_json::Value,
    /// `measured` or `estimated`.
    pub provenance: String,
    pub idle_power_watts: Vec<serde_json::Value>,
    pub sandbox_level: String,
    /// The host's environment (CPU, kernel, governor…).
    pub host: serde_json::Value,
    /// Fleet: the agent that measured it, its host identity and host class `{id, label}`
    /// (results of different classes are never ranked together).
    pub agent_id: Option<String>,
    pub host_identity: Option<serde_json::Value>,
    pub host_class: Option<serde_json::Value>,
    /// When the job was accepted, leased (its last attempt) and finished (Unix seconds).
    pub submitted_at: f64,
    pub started_at: Option<f64>,
    pub finished_at: Option<f64>,
    pub processing_time_seconds: f64,
    pub measurement_timestamp: f64,
    pub report_url: String,
}

/// `GET` of a failed or cancelled task: the predecessor's fields plus the validation block and
/// the classified failure it hid.
#[derive(Serialize, ToSchema)]
pub struct TaskFailedResponse {
    pub task_id: String,
    pub request_id: String,
    /// `failed` or `cancelled`.
    pub status: String,
    /// `incorrect_solution`, `energy_measurement_failed`, `execution_error`, `worker_lost`,
    /// `engine_unavailable`, `cancelled`.
    pub error_type: String,
    pub error_message: String,
    pub failure_timestamp: Option<f64>,
    pub validation: Option<ValidationSummary>,
    /// `wrong_answer`, `timeout`, `memory_limit`, `crashed`, …
    pub failure_kind: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct QuickValidationResponse {
    pub request_id: String,
    pub validation: ValidationSummary,
    pub processing_time_seconds: f64,
}

#[derive(Serialize, ToSchema)]
pub struct BatchQueuedResponse {
    pub batch_id: String,
    pub status: String,
    pub total: u64,
    pub tasks: Vec<serde_json::Value>,
    pub poll_url: String,
}

#[derive(Serialize, ToSchema)]
pub struct BatchStatusResponse {
    pub batch_id: String,
    /// `queued`, `running` or `completed` (every task finished).
    pub status: String,
    pub total: u64,
    pub counts: serde_json::Value,
    /// Host class → how many of the batch's jobs asked for it (empty: any host).
    pub host_classes_requested: serde_json::Value,
    /// Per problem_name, per comparable class (the host class: CPU model, meter, frequency
    /// settings, sandbox level), tasks ranked by `median_total_energy_joules`.
    pub rankings: serde_json::Value,
    pub tasks: Vec<serde_json::Value>,
}

#[utoipa::path(get, path = "/", tag = "service", responses((status = 200, description = "Service banner")))]
fn root() {}
#[utoipa::path(get, path = "/ping", tag = "service", responses((status = 200, description = "`{\"status\":\"ok\",\"service\":\"jouletrace\"}`")))]
fn ping() {}
#[utoipa::path(get, path = "/metrics", tag = "service", responses((status = 200, description = "Prometheus/OpenMetrics exposition")))]
fn prometheus() {}
#[utoipa::path(post, path = "/api/v1/measure", tag = "tasks", request_body = EnergyMeasurementRequest,
    responses((status = 202, body = TaskQueuedResponse), (status = 422, body = ValidationErrorBody),
              (status = 413, body = HttpErrorBody), (status = 503, description = "Queue full; see Retry-After", body = HttpErrorBody),
              (status = 401, body = HttpErrorBody), (status = 403, body = HttpErrorBody), (status = 429, body = HttpErrorBody)))]
fn measure() {}
#[utoipa::path(post, path = "/api/v1/measure-socket0", tag = "tasks", request_body = EnergyMeasurementRequest,
    responses((status = 202, description = "Alias of /api/v1/measure (the predecessor's HEAD route)", body = TaskQueuedResponse)))]
fn measure_socket0() {}
#[utoipa::path(get, path = "/api/v1/tasks/{task_id}", tag = "tasks", params(("task_id" = String, Path)),
    responses((status = 200, description = "Queued, running, completed, failed or cancelled shape",
               content((TaskQueuedResponse), (TaskRunningResponse), (TaskCompletedResponse), (TaskFailedResponse))),
              (status = 404, description = "Unknown, malformed or expired id", body = HttpErrorBody)))]
fn get_task() {}
#[utoipa::path(delete, path = "/api/v1/tasks/{task_id}", tag = "tasks", params(("task_id" = String, Path)),
    responses((status = 204, description = "Cancelled (or already finished)"), (status = 404, body = HttpErrorBody)))]
fn cancel_task() {}
#[utoipa::path(get, path = "/api/v1/tasks/{task_id}/events", tag = "tasks", params(("task_id" = String, Path)),
    responses((status = 200, description = "text/event-stream: `state`, `progress`, `engine` events; ends with the task")))]
fn task_events() {}
#[utoipa::path(get, path = "/api/v1/tasks/{task_id}/report", tag = "tasks", params(("task_id" = String, Path)),
    responses((status = 200, description = "The HTML report (the same renderer as cargo joule)", content_type = "text/html")))]
fn task_report() {}
#[utoipa::path(get, path = "/api/v1/tasks/{task_id}/results", tag = "tasks", params(("task_id" = String, Path)),
    responses((status = 200, description = "The engine's results record (docs/results-schema.md)"), (status = 404, body = HttpErrorBody)))]
fn task_results() {}
#[utoipa::path(post, path = "/api/v1/batches", tag = "batches", request_body = BatchRequest,
    responses((status = 202, body = BatchQueuedResponse), (status = 422, body = ValidationErrorBody), (status = 503, body = HttpErrorBody)))]
fn submit_batch() {}
#[utoipa::path(get, path = "/api/v1/batches/{batch_id}", tag = "batches", params(("batch_id" = String, Path)),
    responses((status = 200, body = BatchStatusResponse), (status = 404, body = HttpErrorBody)))]
fn get_batch() {}
#[utoipa::path(get, path = "/api/v1/batches/{batch_id}/report", tag = "batches", params(("batch_id" = String, Path)),
    responses((status = 200, description = "The library's HTML report of the batch's results merged as one run (one ranking per problem); the batch page when they cannot be merged", content_type = "text/html")))]
fn batch_report() {}
#[utoipa::path(post, path = "/api/v1/validate", tag = "tasks", request_body = QuickValidationRequest,
    responses((status = 200, body = QuickValidationResponse), (status = 422, body = ValidationErrorBody)))]
fn validate() {}
#[utoipa::path(get, path = "/api/v1/health", tag = "service", responses((status = 200, description = "healthy / degraded / unhealthy, never an error status")))]
fn health() {}
#[utoipa::path(get, path = "/api/v1/capabilities", tag = "service", responses((status = 200, description = "What this host can measure")))]
fn capabilities() {}
#[utoipa::path(get, path = "/api/v1/metrics", tag = "service", responses((status = 200, description = "The predecessor's JSON metrics")))]
fn metrics_json() {}
#[utoipa::path(get, path = "/dashboard", tag = "dashboard", responses((status = 200, content_type = "text/html", description = "Queue, agents, running jobs, recent results and failures")))]
fn dashboard() {}
#[utoipa::path(get, path = "/dashboard/jobs/{task_id}", tag = "dashboard", params(("task_id" = String, Path)),
    responses((status = 200, content_type = "text/html", description = "A job's detail with its report")))]
fn dashboard_job() {}

#[utoipa::path(get, path = "/dashboard/batches/{batch_id}", tag = "dashboard", params(("batch_id" = String, Path)),
    responses((status = 200, content_type = "text/html", description = "A batch's counts, rankings per comparable class and tasks")))]
fn dashboard_batch() {}

#[derive(OpenApi)]
#[openapi(
    info(title = "JouleTrace measurement service", description = "The predecessor's API (same requests, same shapes) with honest energy figures: every number carries its meter and provenance."),
    paths(root, ping, prometheus, measure, measure_socket0, get_task, cancel_task, task_events, task_report,
          task_results, submit_batch, get_batch, batch_report, validate, health, capabilities, metrics_json,
          dashboard, dashboard_job, dashboard_batch),
    components(schemas(FieldError, ValidationErrorBody, HttpErrorBody, TestCaseRequest, EnergyMeasurementRequest,
        QuickValidationRequest, BatchRequest, TaskQueuedResponse, TaskRunningResponse, ValidationSummary,
        EnergyMetrics, TaskCompletedResponse, TaskFailedResponse, QuickValidationResponse,
        BatchQueuedResponse, BatchStatusResponse)),
    modifiers(&KeyAuth)
)]
pub struct ApiDoc;

struct KeyAuth;

impl utoipa::Modify for KeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "api_key",
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
            );
        }
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().merge(SwaggerUi::new("/docs").url("/openapi.json", document()))
}
