//! One error type for every handler; the status code of each failure lives in one `match`.
//!
//! Bodies keep the predecessor's shapes: `validation_error` with `field_errors` for 422,
//! `http_error` with `details.status_code` for the others.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::queue::{QueueError, UnixTime};

/// One field's complaint, pydantic-style: `field` is the location joined with `" -> "`
/// (`"body -> test_cases -> 0 -> test_id"`).
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// The 422 body.
#[derive(Serialize, ToSchema)]
pub struct ValidationErrorBody {
    /// Always `validation_error`.
    pub error: String,
    /// `Request validation failed with N errors`.
    pub message: String,
    pub field_errors: Vec<FieldError>,
    /// Seconds since the Unix epoch.
    pub timestamp: f64,
}

/// Every other error body.
#[derive(Serialize, ToSchema)]
pub struct HttpErrorBody {
    /// `http_error`, `queue_full`, `unauthorized`, `forbidden`, `rate_limited`,
    /// `internal_server_error`.
    pub error: String,
    pub message: String,
    /// `{"status_code": N}`, plus what the error knows (`retry_after_seconds`).
    pub details: serde_json::Value,
    pub timestamp: f64,
    /// This HTTP request's id (also in the `x-request-id` header and the logs).
    pub request_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("request validation failed")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    NotFound(String),
    #[error("request body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("{message}")]
    QueueFull { message: String, retry_after_s: u64 },
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("API key `{0}` is revoked")]
    Forbidden(String),
    #[error("API key `{key}` is over its rate limit")]
    RateLimited { key: String, retry_after_s: u64 },
    #[error("API key `{key}` already has {limit} unfinished jobs (its quota)")]
    Quota { key: String, limit: u32 },
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn validation_one(field: &str, message: impl Into<String>, kind: &str) -> ApiError {
        ApiError::Validation(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
            kind: kind.to_owned(),
        }])
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> ApiError {
        match e {
            QueueError::Full { .. } => ApiError::QueueFull {
                message: e.to_string(),
                retry_after_s: 30,
            },
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> ApiError {
        ApiError::Internal(format!("a blocking task failed: {e}"))
    }
}

tokio::task_local! {
    /// The current HTTP request's id, for error bodies (set by the request-id middleware).
    pub static REQUEST_ID: String;
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let timestamp = UnixTime::now().0;
        if let ApiError::Validation(field_errors) = self {
            let n = field_errors.len();
            let body = ValidationErrorBody {
                error: "validation_error".into(),
                message: format!(
                    "Request validation failed with {n} error{}",
                    if n == 1 { "" } else { "s" }
                ),
                field_errors,
                timestamp,
            };
            return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
        }
        let (status, error, retry_after) = match &self {
            ApiError::Validation(_) => unreachable!("handled above"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "http_error", None),
            ApiError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "http_error", None),
            ApiError::QueueFull { retry_after_s, .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "queue_full",
                Some(*retry_after_s),
            ),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", None),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", None),
            ApiError::RateLimited { retry_after_s, .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                Some(*retry_after_s),
            ),
            ApiError::Quota { .. } => (StatusCode::TOO_MANY_REQUESTS, "quota_exceeded", None),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", None),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_server_error",
                None,
            ),
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self, "request failed");
        }
        let mut details = json!({ "status_code": status.as_u16() });
        if let Some(s) = retry_after {
            details["retry_after_seconds"] = json!(s);
        }
        let body = HttpErrorBody {
            error: error.into(),
            message: self.to_string(),
            details,
            timestamp,
            request_id: REQUEST_ID.try_with(Clone::clone).ok(),
        };
        let mut resp = (status, Json(body)).into_response();
        if let Some(s) = retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}
