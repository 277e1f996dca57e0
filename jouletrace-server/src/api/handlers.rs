//! The route handlers. Each parses with extractors, calls the queue (blocking, so through
//! `spawn_blocking`) and answers a shape from `shapes`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use futures_util::Stream;
use jouletrace::report::Format;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::error::{ApiError, FieldError};
use super::shapes::{estimate_seconds, poll_url, task_response};
use crate::agent::HubEvent;
use crate::auth::KeyEntry;
use crate::outcome::Outcome;
use crate::queue::{CancelOutcome, JobId, JobKind, JobRecord, JobState, NewJob, UnixTime};
use crate::spec::{self, Admitted};
use crate::state::AppState;

/// This HTTP request's id (the `x-request-id` header and the logs' `request_id`), as the
/// predecessor answered a fresh request id on submission.
fn http_request_id() -> String {
    super::error::REQUEST_ID
        .try_with(Clone::clone)
        .ok()
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

type St = State<Arc<AppState>>;

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::queue::QueueError> + Send + 'static,
) -> Result<T, ApiError> {
    Ok(tokio::task::spawn_blocking(f).await??)
}

/// The body, as JSON. Like the predecessor (FastAPI), a body without a Content-Type is read as
/// JSON, and one declared as anything else (`text/plain`, a form) is not an object.
fn body_bytes(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<Bytes, ApiError> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
        let media = ct.split(';').next().unwrap_or_default().trim();
        if media != "application/json" && !media.ends_with("+json") {
            return Err(ApiError::validation_one(
                "body",
                format!(
                    "Input should be a valid dictionary or object to extract fields from \
                     (Content-Type `{media}`; send application/json)"
                ),
                "model_attributes_type",
            ));
        }
    }
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge { limit }
        } else {
            ApiError::validation_one("body", e.body_text(), "body_unreadable")
        }
    })
}

/// A task id from the path: anything but a UUID is unknown (404), never a 500.
fn task_id(raw: &str) -> Result<JobId, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::NotFound(format!("no task with id `{raw}` (task ids are UUIDs)")))
}

async fn load(state: &Arc<AppState>, id: JobId) -> Result<JobRecord, ApiError> {
    let q = state.queue.clone();
    blocking(move || q.get(id)).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no task with id `{id}` (unknown, or past retention)"
        ))
    })
}

pub async fn root() -> Json<Value> {
    Json(json!({
        "service": "JouleTrace Energy Measurement API",
        "version": "1.0.0",
        "status": "healthy",
        "docs": "/docs",
        "api": "/api/v1",
        "dashboard": "/dashboard",
        "metrics": "/metrics",
        "server_version": VERSION,
    }))
}

pub async fn ping() -> Json<Value> {
    Json(json!({"status": "ok", "service": "jouletrace"}))
}

/// Refuses a submission that would take `key` over its quota of unfinished jobs.
async fn check_quota(
    state: &Arc<AppState>,
    key: Option<&KeyEntry>,
    adding: u64,
) -> Result<(), ApiError> {
    let Some(key) = key else { return Ok(()) };
    let q = state.queue.clone();
    let id = key.id.clone();
    let active = blocking(move || q.active_for_key(&id)).await?;
    if active + adding > u64::from(key.concurrency) {
        return Err(ApiError::Quota {
            key: key.id.clone(),
            limit: key.concurrency,
        });
    }
    Ok(())
}

fn new_job(a: &Admitted, batch: Option<JobId>, key: Option<&KeyEntry>) -> NewJob {
    NewJob {
        id: JobId::new(),
        kind: JobKind::Measure,
        spec: a.spec.clone(),
        batch,
        problem_name: a.problem_name.clone(),
        candidate_id: a.candidate_id.clone(),
        key_id: key.map(|k| k.id.clone()),
        host_class: a.host_class.clone(),
    }
}

async fn enqueue(state: &Arc<AppState>, jobs: Vec<NewJob>) -> Result<u64, ApiError> {
    let q = state.queue.clone();
    let max = state.config.max_queue;
    let n = jobs.len() as u64;
    let r = blocking(move || {
        q.submit(&jobs, max)?;
        q.counts()
    })
    .await;
    match r {
        Ok(counts) => {
            state.metrics.jobs_submitted.inc_by(n);
            state.agent.wake.notify_waiters();
            Ok(counts.queued.saturating_sub(n))
        }
        Err(e @ ApiError::QueueFull { .. }) => {
            state.metrics.rejected_full.inc();
            Err(e)
        }
        Err(e) => Err(e),
    }
}

pub async fn measure(
    State(state): St,
    key: Option<Extension<KeyEntry>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let key = key.map(|Extension(k)| k);
    let bytes = body_bytes(&headers, body, state.config.max_body_bytes)?;
    let admitted =
        spec::admit_body(&bytes, state.config.max_test_cases).map_err(ApiError::Validation)?;
    check_quota(&state, key.as_ref(), 1).await?;
    let job = new_job(&admitted, None, key.as_ref());
    let id = job.id;
    let ahead = enqueue(&state, vec![job]).await?;
    tracing::info!(task_id = %id, test_cases = admitted.test_cases, host_class = admitted.host_class, "job queued");
    let mut body = json!({
        "task_id": id.to_string(),
        "request_id": http_request_id(),
        "status": "queued",
        "estimated_completion_seconds": estimate_seconds(
            admitted.test_cases, admitted.trials, admitted.warmup, ahead, state.agent.slots),
        "poll_url": poll_url(&id),
    });
    if let Some(class) = &admitted.host_class {
        body["host_class_requested"] = json!(class);
        class_warning(&state, &mut body, class, 1).await?;
    }
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

pub async fn get_task(State(state): St, Path(raw): Path<String>) -> Result<Json<Value>, ApiError> {
    let job = load(&state, task_id(&raw)?).await?;
    let mut body = task_response(&job);
    if job.state == JobState::Queued
        && let Some(class) = &job.host_class
    {
        class_warning(&state, &mut body, class, 1).await?;
    }
    Ok(Json(body))
}

/// fleet: says in `body` how many live agents have `class`, and warns when none does: a job
/// for a class no agent has would otherwise wait silently.
async fn class_warning(
    state: &Arc<AppState>,
    body: &mut Value,
    class: &str,
    jobs: u64,
) -> Result<(), ApiError> {
    let live = crate::fleet::live_classes(state).await?;
    let agents = live.get(class).copied().unwrap_or(0);
    body["live_agents_of_class"] = json!(agents);
    if agents == 0 {
        body["warning"] = json!(crate::fleet::unserved_message(class, jobs));
    }
    Ok(())
}

pub async fn cancel_task(State(state): St, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let id = task_id(&raw)?;
    let q = state.queue.clone();
    match blocking(move || q.cancel(id)).await? {
        CancelOutcome::NotFound => Err(ApiError::NotFound(format!("no task with id `{id}`"))),
        CancelOutcome::Cancelled { was } => {
            tracing::info!(task_id = %id, was = was.as_str(), "job cancelled");
            if was == JobState::Queued {
                state.metrics.outcome("cancelled");
            }
            state.hub.publish(
                id,
                HubEvent::Finished {
                    status: "cancelled".into(),
                },
            );
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        // Idempotent: the task is already over; nothing was changed.
        CancelOutcome::AlreadyFinished(_) => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

fn outcome_of(job: &JobRecord) -> Option<Outcome> {
    job.outcome
        .as_deref()
        .and_then(|o| serde_json::from_str::<Outcome>(o).ok())
}

pub async fn task_results(State(state): St, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let job = load(&state, task_id(&raw)?).await?;
    let results = outcome_of(&job).and_then(|o| o.results).ok_or_else(|| {
        ApiError::NotFound(format!(
            "task `{}` has no results record (it is {})",
            job.id,
            job.state.as_str()
        ))
    })?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        results.to_json(),
    )
        .into_response())
}

pub async fn task_report(
    State(state): St,
    Path(raw): Path<String>,
) -> Result<Html<String>, ApiError> {
    let job = load(&state, task_id(&raw)?).await?;
    match outcome_of(&job).and_then(|o| o.results) {
        Some(results) => jouletrace::report::Html
            .render(&results)
            .map(Html)
            .map_err(|e| ApiError::Internal(format!("report: {e}"))),
        None => Ok(Html(state.dashboard.job_page(&job, None)?)),
    }
}

/// The task's progress as server-sent events: its current state first, then the engine's
/// events as they happen, then its final state; the stream ends with the task.
pub async fn task_events(
    State(state): St,
    Path(raw): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let id = task_id(&raw)?;
    let rx = state.hub.subscribe();
    let first = load(&state, id).await?;
    struct S {
        state: Arc<AppState>,
        rx: tokio::sync::broadcast::Receiver<(JobId, HubEvent)>,
        id: JobId,
        first: Option<JobRecord>,
        done: bool,
    }
    let s = S {
        state,
        rx,
        id,
        first: Some(first),
        done: false,
    };
    let stream = futures_util::stream::unfold(s, |mut s| async move {
        if s.done {
            return None;
        }
        if let Some(job) = s.first.take() {
            s.done = job.state.is_terminal();
            let ev = Event::default()
                .event("state")
                .json_data(task_response(&job))
                .ok()?;
            return Some((Ok(ev), s));
        }
        loop {
            // The hub hears this process's agent; the poll catches agents elsewhere and missed
            // messages.
            let got = tokio::time::timeout(Duration::from_secs(1), s.rx.recv()).await;
            match got {
                Ok(Ok((jid, ev))) if jid == s.id => {
                    if let HubEvent::Finished { .. } = ev {
                        let job = load(&s.state, s.id).await.ok()?;
                        s.done = true;
                        let e = Event::default()
                            .event("state")
                            .json_data(task_response(&job))
                            .ok()?;
                        return Some((Ok(e), s));
                    }
                    let name = match &ev {
                        HubEvent::Progress { .. } => "progress",
                        HubEvent::Engine { .. } => "engine",
                        HubEvent::Finished { .. } => "state",
                    };
                    let e = Event::default().event(name).json_data(&ev).ok()?;
                    return Some((Ok(e), s));
                }
                Ok(Ok(_)) | Ok(Err(RecvError::Lagged(_))) => continue,
                Ok(Err(RecvError::Closed)) => return None,
                Err(_) => {
                    let job = load(&s.state, s.id).await.ok()?;
                    if job.state.is_terminal() {
                        s.done = true;
                        let e = Event::default()
                            .event("state")
                            .json_data(task_response(&job))
                            .ok()?;
                        return Some((Ok(e), s));
                    }
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

type RawList = Vec<Box<serde_json::value::RawValue>>;

/// A batch body as submitted: its name, its requests (raw), where they sit (`body` or
/// `body -> requests`), and the host class the whole batch asks for.
struct BatchBody {
    name: Option<String>,
    requests: RawList,
    loc: &'static str,
    host_class: Option<String>,
}

/// fleet: a batch's own `host_class` (every request without one asks for it): absent, null, or
/// a class id as the requests' field.
fn batch_class(raw: Option<Value>) -> Result<Option<String>, ApiError> {
    match raw {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(c)) if jouletrace::job::is_host_class_id(&c) => Ok(Some(c)),
        Some(Value::String(_)) => Err(ApiError::validation_one(
            "body -> host_class",
            format!(
                "String should match pattern '{}'",
                jouletrace::job::HOST_CLASS_PATTERN
            ),
            "string_pattern_mismatch",
        )),
        Some(_) => Err(ApiError::validation_one(
            "body -> host_class",
            "Input should be a valid string",
            "string_type",
        )),
    }
}

/// A batch body: `{"requests": [...], "name": ..., "host_class": ...}`, or a bare list of
/// requests. Each request stays raw JSON, so the library validates it exactly as a single
/// `/measure` body.
fn batch_requests(bytes: &[u8]) -> Result<BatchBody, ApiError> {
    #[derive(serde::Deserialize)]
    struct Body {
        requests: Option<Value>,
        name: Option<String>,
        host_class: Option<Value>,
    }
    #[derive(serde::Deserialize)]
    struct Requests {
        requests: RawList,
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::validation_one("body", "the body is not UTF-8", "json_invalid"))?;
    let first = text.trim_start().chars().next();
    let json_err = |e: serde_json::Error| {
        ApiError::validation_one("body", format!("JSON decode error: {e}"), "json_invalid")
    };
    match first {
        None => Err(ApiError::validation_one(
            "body",
            "Field required",
            "missing",
        )),
        Some('[') => Ok(BatchBody {
            name: None,
            requests: serde_json::from_str(text).map_err(json_err)?,
            loc: "body",
            host_class: None,
        }),
        Some('{') => {
            let b: Body = serde_json::from_str(text).map_err(json_err)?;
            match b.requests {
                None => Err(ApiError::validation_one(
                    "body -> requests",
                    "Field required",
                    "missing",
                )),
                Some(Value::Array(_)) => {
                    let r: Requests = serde_json::from_str(text).map_err(json_err)?;
                    Ok(BatchBody {
                        name: b.name,
                        requests: r.requests,
                        loc: "body -> requests",
                        host_class: batch_class(b.host_class)?,
                    })
                }
                Some(_) => Err(ApiError::validation_one(
                    "body -> requests",
                    "Input should be a valid list",
                    "list_type",
                )),
            }
        }
        Some(_) => Err(ApiError::validation_one(
            "body",
            "Input should be an object with `requests`, or a list of requests",
            "model_attributes_type",
        )),
    }
}

pub async fn submit_batch(
    State(state): St,
    key: Option<Extension<KeyEntry>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let key = key.map(|Extension(k)| k);
    let bytes = body_bytes(&headers, body, state.config.max_body_bytes)?;
    let BatchBody {
        name,
        requests,
        loc,
        host_class,
    } = batch_requests(&bytes)?;
    if requests.is_empty() {
        return Err(ApiError::validation_one(
            loc,
            "At least one request must be provided",
            "too_short",
        ));
    }
    if requests.len() > state.config.max_batch_jobs {
        return Err(ApiError::validation_one(
            loc,
            format!(
                "List should have at most {} items (this server's --max-batch-jobs), not {}",
                state.config.max_batch_jobs,
                requests.len()
            ),
            "too_long",
        ));
    }
    let mut admitted = Vec::new();
    let mut errors: Vec<FieldError> = Vec::new();
    for (i, r) in requests.into_iter().enumerate() {
        match spec::admit_raw(&r, &format!("{loc} -> {i}"), state.config.max_test_cases) {
            // fleet: a request asks for the batch's class unless it names its own; two
            // different classes in one request are a contradiction, not a choice.
            Ok(mut a) => match (&a.host_class, &host_class) {
                (Some(own), Some(batch)) if own != batch => errors.push(FieldError {
                    field: format!("{loc} -> {i} -> host_class"),
                    message: format!(
                        "Value error, the request asks for host class {own}, its batch for {batch}"
                    ),
                    kind: "value_error".into(),
                }),
                _ => {
                    a.host_class = a.host_class.or_else(|| host_class.clone());
                    admitted.push(a);
                }
            },
            Err(e) => errors.extend(e),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    check_quota(&state, key.as_ref(), admitted.len() as u64).await?;
    let batch = JobId::new();
    let jobs: Vec<NewJob> = admitted
        .iter()
        .map(|a| new_job(a, Some(batch), key.as_ref()))
        .collect();
    let tasks: Vec<Value> = jobs
        .iter()
        .map(|j| json!({"task_id": j.id.to_string(), "poll_url": poll_url(&j.id)}))
        .collect();
    // fleet: per requested host class, how many of the batch's jobs asked for it.
    let mut classes: BTreeMap<String, u64> = BTreeMap::new();
    for j in &jobs {
        if let Some(c) = &j.host_class {
            *classes.entry(c.clone()).or_default() += 1;
        }
    }
    enqueue(&state, jobs).await?;
    tracing::info!(batch_id = %batch, jobs = tasks.len(), "batch queued");
    let mut body = json!({
        "batch_id": batch.to_string(),
        "name": name,
        "status": "queued",
        "total": tasks.len(),
        "tasks": tasks,
        "poll_url": format!("/api/v1/batches/{batch}"),
    });
    if !classes.is_empty() {
        let live = crate::fleet::live_classes(&state).await?;
        let warnings: Vec<String> = classes
            .iter()
            .filter(|(c, _)| !live.contains_key(*c))
            .map(|(c, n)| crate::fleet::unserved_message(c, *n))
            .collect();
        body["host_classes_requested"] = json!(classes);
        if !warnings.is_empty() {
            body["warnings"] = json!(warnings);
        }
    }
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// A batch's status: every task's response, counts by state, and per `problem_name` a ranking
/// of its completed tasks by `median_total_energy_joules`. Only results from one meter,
/// provenance and CPU model are ranked together; others are listed apart, never compared.
pub fn batch_body(batch: JobId, jobs: &[JobRecord]) -> Value {
    let tasks: Vec<Value> = jobs.iter().map(task_response).collect();
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for j in jobs {
        *counts.entry(j.state.as_str()).or_default() += 1;
    }
    let all_done = jobs.iter().all(|j| j.state.is_terminal());
    let any_running = jobs.iter().any(|j| j.state == JobState::Running);
    let status = if all_done {
        "completed"
    } else if any_running || jobs.iter().any(|j| j.state.is_terminal()) {
        "running"
    } else {
        "queued"
    };
    // problem → comparability class → entries
    let mut groups: BTreeMap<String, BTreeMap<String, Vec<Value>>> = BTreeMap::new();
    for t in &tasks {
        if t["status"] != "completed" {
            continue;
        }
        let Some(energy) = t["energy_metrics"]["median_total_energy_joules"].as_f64() else {
            continue;
        };
        let problem = t["problem_name"]
            .as_str()
            .unwrap_or("(no problem_name)")
            .to_owned();
        // fleet: results carry their host class (CPU model + meter + frequency settings); ranked
        // only within one. Older results without it fall back to meter / provenance / CPU.
        let class = match t["host_class"]["label"].as_str() {
            Some(label) => format!(
                "{} [{}]",
                label,
                t["host_class"]["id"].as_str().unwrap_or("?")
            ),
            None => format!(
                "{} / {} / {}",
                t["meter"]["backend"].as_str().unwrap_or("unknown meter"),
                t["provenance"].as_str().unwrap_or("unknown"),
                t["host"]["cpu_model"].as_str().unwrap_or("unknown CPU"),
            ),
        };
        groups.entry(problem).or_default().entry(class).or_default().push(json!({
            "task_id": t["task_id"],
            "candidate_id": t["candidate_id"],
            "median_total_energy_joules": energy,
            "median_total_energy_joules_bounds": t["energy_metrics"]["median_total_energy_joules_bounds"],
            "median_execution_time_seconds": t["energy_metrics"]["median_execution_time_seconds"],
            "provenance": t["provenance"],
        }));
    }
    let mut rankings = serde_json::Map::new();
    for (problem, classes) in groups {
        let mut out = Vec::new();
        for (class, mut entries) in classes {
            entries.sort_by(|a, b| {
                a["median_total_energy_joules"]
                    .as_f64()
                    .partial_cmp(&b["median_total_energy_joules"].as_f64())
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            let best = entries
                .first()
                .and_then(|e| e["median_total_energy_joules"].as_f64());
            for (i, e) in entries.iter_mut().enumerate() {
                e["rank"] = json!(i + 1);
                if let (Some(b), Some(v)) = (best, e["median_total_energy_joules"].as_f64())
                    && b > 0.0
                {
                    e["ratio_to_best"] = json!(v / b);
                }
            }
            out.push(json!({"comparable_class": class, "entries": entries}));
        }
        rankings.insert(problem, Value::Array(out));
    }
    // fleet: a batch whose jobs asked for a host class is ranked within it (its results all
    // come from that class's agents; the grouping above keeps any other class apart anyway).
    let mut requested: BTreeMap<&str, u64> = BTreeMap::new();
    for c in jobs.iter().filter_map(|j| j.host_class.as_deref()) {
        *requested.entry(c).or_default() += 1;
    }
    json!({
        "batch_id": batch.to_string(),
        "status": status,
        "total": jobs.len(),
        "counts": counts,
        "host_classes_requested": requested,
        "rankings": rankings,
        "tasks": tasks,
    })
}

/// A batch's id and jobs, or 404 for a malformed or unknown id.
async fn load_batch(state: &Arc<AppState>, raw: &str) -> Result<(JobId, Vec<JobRecord>), ApiError> {
    let id = task_id(raw).map_err(|_| ApiError::NotFound(format!("no batch with id `{raw}`")))?;
    let q = state.queue.clone();
    let jobs = blocking(move || q.batch(id))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no batch with id `{id}`")))?;
    Ok((id, jobs))
}

pub async fn get_batch(State(state): St, Path(raw): Path<String>) -> Result<Json<Value>, ApiError> {
    let (id, jobs) = load_batch(&state, &raw).await?;
    Ok(Json(batch_body(id, &jobs)))
}

/// The batch's HTML report: the library's report (the renderer of `cargo joule`) of its tasks'
/// results merged as shards of one run — one ranking per problem — when they can be merged
/// (same meter and CPU, distinct candidate names); otherwise, or before any task has results,
/// the batch's page with its rankings per comparable class.
pub async fn batch_report(
    State(state): St,
    Path(raw): Path<String>,
) -> Result<Html<String>, ApiError> {
    let (id, jobs) = load_batch(&state, &raw).await?;
    let shards: Vec<(String, jouletrace::results::RunResults)> = jobs
        .iter()
        .filter_map(|j| {
            outcome_of(j)
                .and_then(|o| o.results)
                .map(|r| (format!("task {}", j.id), r))
        })
        .collect();
    if !shards.is_empty() {
        match jouletrace::engine::merge::merge(shards, false) {
            Ok(merged) => {
                return jouletrace::report::Html
                    .render(&merged)
                    .map(Html)
                    .map_err(|e| ApiError::Internal(format!("report: {e}")));
            }
            Err(e) => {
                tracing::info!(batch_id = %id, reason = %e, "batch results not mergeable; serving the batch page")
            }
        }
    }
    Ok(Html(state.dashboard.batch_page(&batch_body(id, &jobs))?))
}

/// The batch's page: counts, rankings per comparable class, links to every task.
pub async fn batch_page(
    State(state): St,
    Path(raw): Path<String>,
) -> Result<Html<String>, ApiError> {
    let (id, jobs) = load_batch(&state, &raw).await?;
    Ok(Html(state.dashboard.batch_page(&batch_body(id, &jobs))?))
}

/// `POST /api/v1/validate`: the candidate's check, synchronously, in a worker process (never in
/// the API's process: a hang or a memory bomb costs that process, not the service).
pub async fn validate(
    State(state): St,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let started = Instant::now();
    let bytes = body_bytes(&headers, body, state.config.max_body_bytes)?;
    let admitted = spec::admit_validation(&bytes, state.config.max_test_cases)
        .map_err(ApiError::Validation)?;
    let _permit = state
        .validators
        .acquire()
        .await
        .map_err(|_| ApiError::Unavailable("the service is shutting down".into()))?;
    let mut child = crate::agent::start_worker(true, None)
        .map_err(|e| ApiError::Internal(format!("cannot start a validation worker: {e}")))?;
    // The job's own limits bound each test case; this bounds the whole call.
    let limit =
        Duration::from_secs(admitted.timeout_seconds * admitted.test_cases.max(1) as u64 + 30);
    let run = crate::agent::drive_worker(&mut child, &admitted.spec, |_| {});
    let outcome = match tokio::time::timeout(limit, run).await {
        Ok(Ok(Some(o))) => o,
        Ok(Ok(None)) => {
            return Err(ApiError::Internal(
                "the validation worker died without an answer".into(),
            ));
        }
        Ok(Err(e)) => return Err(ApiError::Internal(format!("validation worker: {e}"))),
        Err(_) => {
            crate::agent::stop_worker(child.id()).await;
            return Err(ApiError::Internal(format!(
                "validation did not finish within {} s",
                limit.as_secs()
            )));
        }
    };
    let mut body = json!({
        "request_id": http_request_id(),
        "validation": outcome.body.get("validation").cloned().unwrap_or(Value::Null),
        "processing_time_seconds": started.elapsed().as_secs_f64(),
    });
    if outcome.state == JobState::Failed && outcome.body.get("validation").is_none() {
        body["error_type"] = outcome
            .body
            .get("error_type")
            .cloned()
            .unwrap_or(Value::Null);
        body["error_message"] = outcome
            .body
            .get("error_message")
            .cloned()
            .unwrap_or(Value::Null);
    }
    Ok(Json(body))
}

pub async fn health(State(state): St) -> Json<Value> {
    let q = state.queue.clone();
    let day_ago = UnixTime::now().minus(Duration::from_secs(86_400));
    let stats = tokio::task::spawn_blocking(move || {
        Ok::<_, crate::queue::QueueError>((q.counts()?, q.finished_since(day_ago)?))
    })
    .await;
    let host = crate::host::get();
    let meter = host.meter.as_ref().ok();
    let (status, queue, done24, avg) = match stats {
        Ok(Ok((counts, (n, avg)))) => {
            state.metrics.set_depth(&counts);
            // As the predecessor: healthy needs an agent and a meter that measures; an
            // estimate-only host answers, but its figures are estimates, so it is degraded.
            let measuring =
                meter.is_some_and(|m| m.provenance == jouletrace::energy::Provenance::Measured);
            let status = if state.agent.slots > 0 && measuring {
                "healthy"
            } else {
                "degraded"
            };
            (status, json!(counts), json!(n), json!(avg))
        }
        // Health never answers an error status; it says what is wrong.
        _ => ("unhealthy", Value::Null, Value::Null, Value::Null),
    };
    // fleet: jobs waiting for a host class, and whether any live agent can take them.
    let waits = crate::fleet::class_waits(&state).await.unwrap_or_default();
    let warnings: Vec<Value> = waits
        .iter()
        .filter_map(|w| w.get("warning").cloned())
        .collect();
    let status = if status == "healthy" && !warnings.is_empty() {
        "degraded"
    } else {
        status
    };
    Json(json!({
        "status": status,
        "timestamp": UnixTime::now().0,
        "version": "1.0.0",
        "server_version": VERSION,
        "energy_meter_available": meter.is_some_and(|m| m.provenance == jouletrace::energy::Provenance::Measured),
        "energy_meter_type": meter.map(|m| json!(m.backend)),
        "energy_meter_provenance": meter.map(|m| json!(m.provenance)),
        "energy_meter_unavailable_reason": host.meter.as_ref().err(),
        "celery_worker_count": state.agent.slots,
        // fleet: the backend in use; Redis is connected when the queue just answered.
        "redis_connected": state.config.queue != crate::config::QueueBackend::Embedded && status != "unhealthy",
        "queue_backend": state.config.queue.kind(),
        "active_tasks": state.agent.busy.load(std::sync::atomic::Ordering::SeqCst),
        "completed_tasks_24h": done24,
        "average_measurement_time_seconds": avg,
        "queue": queue,
        // fleet: every registered agent of the fleet (or this process's own).
        "agents": crate::fleet::agents_json(&state).await.unwrap_or_default(),
        "host_class_waits": waits,
        "warnings": warnings,
        "uptime_seconds": state.started.elapsed().as_secs_f64(),
    }))
}

pub async fn capabilities(State(state): St) -> Json<Value> {
    let host = crate::host::get();
    let meter = host.meter.as_ref().ok();
    Json(json!({
        "energy_measurement_available": meter.is_some_and(|m| m.provenance == jouletrace::energy::Provenance::Measured),
        "energy_estimation_only": meter.is_some_and(|m| m.estimated),
        "supported_meter_types": ["perf", "powercap", "msr", "estimate"],
        "meter": meter,
        "cpu_isolation_supported": true,
        "thermal_monitoring_supported": false,
        "platform": std::env::consts::OS,
        "cpu_vendor": host.environment.cpu_vendor,
        "cpu_model": host.environment.cpu_model,
        "cpu_cores": host.environment.physical_cores,
        "logical_cpus": host.environment.logical_cpus,
        "available_memory_gb": host.memory_gb,
        "max_concurrent_measurements": state.agent.slots,
        "max_measurement_timeout_seconds": 300,
        "max_memory_limit_mb": 8192,
        "max_test_cases": state.config.max_test_cases,
        "max_batch_jobs": state.config.max_batch_jobs,
        "max_body_bytes": state.config.max_body_bytes,
        "max_queue": state.config.max_queue,
        "languages": ["python"],
    }))
}

pub async fn metrics_json(State(state): St) -> Result<Json<Value>, ApiError> {
    let q = state.queue.clone();
    let counts = blocking(move || q.counts()).await?;
    state.metrics.set_depth(&counts);
    let host = crate::host::get();
    Ok(Json(json!({
        "timestamp": UnixTime::now().0,
        "system": {
            "load_average": host::load_average(),
            "logical_cpus": host.environment.logical_cpus,
        },
        "celery": {
            "worker_count": state.agent.slots,
            "worker_stats": {
                "busy": state.agent.busy.load(std::sync::atomic::Ordering::SeqCst),
                "jobs_done": state.agent.jobs_done.load(std::sync::atomic::Ordering::SeqCst),
            },
        },
        "queue": counts,
        "energy_measurement": {
            "available": host.meter.as_ref().is_ok_and(|m| m.provenance == jouletrace::energy::Provenance::Measured),
            "meter_type": host.meter.as_ref().ok().map(|m| json!(m.backend)),
            "provenance": host.meter.as_ref().ok().map(|m| json!(m.provenance)),
        },
        "prometheus": "/metrics",
    })))
}

use crate::host;

pub async fn prometheus(State(state): St) -> Result<Response, ApiError> {
    let q = state.queue.clone();
    let counts = blocking(move || q.counts()).await?;
    state.metrics.set_depth(&counts);
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response())
}
