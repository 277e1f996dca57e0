//! The HTTP API: one [`router`], state in an `Arc`, every handler returning
//! `Result<_, ApiError>`.
//!
//! The routes and shapes are the predecessor's (`docs/service.md` lists them, with the
//! predecessor's bugs this service fixes); the OpenAPI document is served at `/openapi.json`
//! and browsable at `/docs`.

pub mod error;
pub(crate) mod handlers;
pub mod openapi;
mod shapes;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::state::AppState;
use error::{ApiError, REQUEST_ID};

pub use shapes::task_response;

/// The whole HTTP surface.
pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/measure", post(handlers::measure))
        // The predecessor's HEAD route, kept as an alias so its clients work unchanged.
        .route("/measure-socket0", post(handlers::measure))
        .route(
            "/tasks/{task_id}",
            get(handlers::get_task).delete(handlers::cancel_task),
        )
        .route("/tasks/{task_id}/events", get(handlers::task_events))
        .route("/tasks/{task_id}/report", get(handlers::task_report))
        .route("/tasks/{task_id}/results", get(handlers::task_results))
        .route("/batches", post(handlers::submit_batch))
        .route("/batches/{batch_id}", get(handlers::get_batch))
        .route("/batches/{batch_id}/report", get(handlers::batch_report))
        .route("/validate", post(handlers::validate))
        .route("/health", get(handlers::health))
        .route("/capabilities", get(handlers::capabilities))
        .route("/metrics", get(handlers::metrics_json))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_key));

    let dashboard = crate::dashboard::routes()
        .route_layer(middleware::from_fn_with_state(state.clone(), require_key));

    let timeout = state.config.request_timeout;
    let body_limit = state.config.max_body_bytes;
    let cors = cors_layer(&state.config.cors_origins);
    let mut app = Router::new()
        .route("/", get(handlers::root))
        .route("/ping", get(handlers::ping))
        .route("/metrics", get(handlers::prometheus))
        .nest("/api/v1", api)
        .merge(dashboard)
        .merge(openapi::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(request_id_scope))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(
            |req: &axum::http::Request<axum::body::Body>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = id)
            },
        ))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ));
    if let Some(cors) = cors {
        app = app.layer(cors);
    }
    app
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim()).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(list))
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([
                axum::http::header::CONTENT_TYPE,
                axum::http::header::AUTHORIZATION,
                axum::http::HeaderName::from_static("x-api-key"),
            ]),
    )
}

/// Makes the request id available to error bodies.
async fn request_id_scope(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    REQUEST_ID.scope(id, next.run(req)).await
}

/// The key check, before any handler (so a refused request never reaches the queue).
async fn require_key(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    use crate::auth::{Denied, authorize};
    match authorize(&state.config.keys, &state.limiter, req.headers()) {
        Ok(key) => {
            if let Some(k) = key {
                req.extensions_mut().insert(k);
            }
            Ok(next.run(req).await)
        }
        Err(Denied::Unauthenticated(m)) => Err(ApiError::Unauthorized(m)),
        Err(Denied::Revoked(id)) => Err(ApiError::Forbidden(id)),
        Err(Denied::RateLimited { key, retry_after_s }) => {
            Err(ApiError::RateLimited { key, retry_after_s })
        }
    }
}

/// Starlette's default bodies, which the predecessor's clients may match on.
async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"detail": "Not Found"})),
    )
        .into_response()
}

async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        axum::Json(json!({"detail": "Method Not Allowed"})),
    )
        .into_response()
}
