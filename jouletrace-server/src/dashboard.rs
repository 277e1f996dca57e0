//! The dashboard: server-rendered pages (tera, the report's template engine), no scripts, no
//! CDN. What it shows comes from the same queue queries and response shapes the API answers.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Html;
use axum::routing::get;
use serde_json::{Value, json};

use crate::api::error::ApiError;
use crate::api::task_response;
use crate::queue::{JobRecord, JobState, UnixTime};
use crate::state::AppState;

const BASE: &str = include_str!("../templates/base.html.tera");
const DASHBOARD: &str = include_str!("../templates/dashboard.html.tera");
const JOB: &str = include_str!("../templates/job.html.tera");
const BATCH: &str = include_str!("../templates/batch.html.tera");

pub struct Templates {
    tera: tera::Tera,
}

impl Default for Templates {
    fn default() -> Self {
        Templates::new()
    }
}

fn tmpl_err(e: tera::Error) -> ApiError {
    // tera's Display hides the cause chain; the source names the template line.
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    ApiError::Internal(format!("dashboard template: {msg}"))
}

impl Templates {
    pub fn new() -> Templates {
        let mut tera = tera::Tera::default();
        // Names end in `.html` so tera escapes every `{{ }}`: all text shown comes from clients.
        tera.add_raw_templates([
            ("base.html", BASE),
            ("dashboard.html", DASHBOARD),
            ("job.html", JOB),
            ("batch.html", BATCH),
        ])
        .expect("the dashboard templates are valid (checked by the tests)");
        Templates { tera }
    }

    fn render(&self, name: &str, ctx: &Value) -> Result<String, ApiError> {
        let ctx = tera::Context::from_value(ctx.clone()).map_err(tmpl_err)?;
        self.tera.render(name, &ctx).map_err(tmpl_err)
    }

    pub fn job_page(&self, job: &JobRecord, _report: Option<&str>) -> Result<String, ApiError> {
        let r = task_response(job);
        let has_results = job
            .outcome
            .as_deref()
            .is_some_and(|o| o.contains("\"results\":{"));
        self.render(
            "job.html",
            &json!({
                "title": format!("task {}", short(&job.id.to_string())),
                "refresh": (!job.state.is_terminal()).then_some(2),
                "id": job.id.to_string(),
                "state": job.state.as_str(),
                "candidate": job.candidate_id.clone().unwrap_or_else(|| "—".into()),
                "problem": job.problem_name.clone().unwrap_or_else(|| "—".into()),
                "attempts": job.attempts,
                "stage": job.progress.as_ref().map(|p| p.stage.clone()),
                "percent": job.progress.as_ref().map_or(0, |p| (p.progress * 100.0).round() as i64),
                "error": r.get("error_message"),
                "energy": energy_text(&r),
                "estimated": r["provenance"] == "estimated",
                "has_results": has_results,
                "response": serde_json::to_string_pretty(&r).unwrap_or_default(),
            }),
        )
    }

    pub fn batch_page(&self, body: &Value) -> Result<String, ApiError> {
        let counts: Vec<Value> = body["counts"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| json!({"name": k, "count": v}))
                    .collect()
            })
            .unwrap_or_default();
        let mut rankings = Vec::new();
        if let Some(m) = body["rankings"].as_object() {
            for (problem, classes) in m {
                let classes: Vec<Value> = classes
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| {
                        let entries: Vec<Value> = c["entries"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|e| {
                                let task = e["task_id"].as_str().unwrap_or_default();
                                json!({
                                    "rank": e["rank"],
                                    "candidate": e["candidate_id"].as_str().unwrap_or("—"),
                                    "energy": e["median_total_energy_joules"].as_f64().map(joules),
                                    "estimated": e["provenance"] == "estimated",
                                    "ratio": e["ratio_to_best"].as_f64().map(|r| format!("{r:.2}×")),
                                    "task": task,
                                    "short": short(task),
                                })
                            })
                            .collect();
                        json!({"class": c["comparable_class"], "entries": entries})
                    })
                    .collect();
                rankings.push(json!({"problem": problem, "classes": classes}));
            }
        }
        let tasks: Vec<Value> = body["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                let id = t["task_id"].as_str().unwrap_or_default();
                json!({"id": id, "short": short(id), "candidate": t["candidate_id"].as_str().unwrap_or("—"), "state": t["status"]})
            })
            .collect();
        let id = body["batch_id"].as_str().unwrap_or_default();
        self.render(
            "batch.html",
            &json!({
                "title": format!("batch {}", short(id)),
                "refresh": (body["status"] != "completed").then_some(2),
                "id": id,
                "status": body["status"],
                "counts": counts,
                "rankings": rankings,
                "tasks": tasks,
            }),
        )
    }
}

fn short(id: &str) -> String {
    id.chars().take(8).collect()
}

fn joules(j: f64) -> String {
    let a = j.abs();
    if a >= 1.0 {
        format!("{j:.3} J")
    } else if a >= 1e-3 {
        format!("{:.3} mJ", j * 1e3)
    } else if a >= 1e-6 {
        format!("{:.3} µJ", j * 1e6)
    } else {
        format!("{:.1} nJ", j * 1e9)
    }
}

fn seconds(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.3} s")
    } else if s >= 1e-3 {
        format!("{:.3} ms", s * 1e3)
    } else {
        format!("{:.3} µs", s * 1e6)
    }
}

fn energy_text(r: &Value) -> Option<String> {
    r["energy_metrics"]["median_total_energy_joules"]
        .as_f64()
        .map(joules)
}

fn ago(t: Option<UnixTime>) -> String {
    match t {
        Some(t) => format!("{:.0} s ago", UnixTime::now().seconds_since(t)),
        None => "—".into(),
    }
}

/// This process's agent as `/health` and the dashboard list it.
pub fn agent_json(state: &AppState) -> Value {
    let host = crate::host::get();
    let meter = host.meter.as_ref().ok();
    json!({
        "id": state.agent.id,
        "slots": state.agent.slots,
        "busy": state.agent.busy.load(std::sync::atomic::Ordering::SeqCst),
        "jobs_done": state.agent.jobs_done.load(std::sync::atomic::Ordering::SeqCst),
        "cpu_model": host.environment.cpu_model,
        "cores": format!("{} physical, {} logical", host.environment.physical_cores, host.environment.logical_cpus),
        "meter": meter.map_or("unavailable".to_owned(), |m| format!("{:?}", m.backend).to_lowercase()),
        "estimated": meter.is_some_and(|m| m.estimated),
        "host_class": state.fleet.identity().1,
    })
}

async fn overview(State(state): State<Arc<AppState>>) -> Result<Html<String>, ApiError> {
    let q = state.queue.clone();
    let (counts, running, completed, failed, cancelled) = tokio::task::spawn_blocking(move || {
        Ok::<_, crate::queue::QueueError>((
            q.counts()?,
            q.recent(JobState::Running, 50)?,
            q.recent(JobState::Completed, 20)?,
            q.recent(JobState::Failed, 20)?,
            q.recent(JobState::Cancelled, 5)?,
        ))
    })
    .await??;
    state.metrics.set_depth(&counts);
    let states: Vec<Value> = JobState::ALL
        .iter()
        .map(|s| json!({"name": s.as_str(), "count": counts.get(*s)}))
        .collect();
    let row = |j: &JobRecord| {
        let r = task_response(j);
        json!({
            "id": j.id.to_string(),
            "short": short(&j.id.to_string()),
            "candidate": j.candidate_id.clone().unwrap_or_else(|| "—".into()),
            "problem": j.problem_name.clone().unwrap_or_else(|| "—".into()),
            "stage": r["stage"],
            "percent": j.progress.as_ref().map_or(0, |p| (p.progress * 100.0).round() as i64),
            "elapsed": r["elapsed_seconds"].as_f64().map(seconds),
            "attempts": j.attempts,
            "energy": energy_text(&r).unwrap_or_else(|| "—".into()),
            "estimated": r["provenance"] == "estimated",
            "time": r["energy_metrics"]["median_execution_time_seconds"].as_f64().map(seconds),
            "finished": ago(j.finished_at),
            "state": j.state.as_str(),
            "error": r["error_message"].as_str().map(|m| format!("{}: {m}", r["error_type"].as_str().unwrap_or("failed"))),
        })
    };
    let mut failures: Vec<&JobRecord> = failed.iter().chain(&cancelled).collect();
    failures.sort_by(|a, b| {
        b.finished_at
            .map(|t| t.0)
            .partial_cmp(&a.finished_at.map(|t| t.0))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    // fleet: the fleet's registered agents when the queue is shared.
    let agents = crate::fleet::agents_json(&state).await?;
    let class_waits = crate::fleet::class_waits(&state).await?;
    let page = state.dashboard.render(
        "dashboard.html",
        &json!({
            "title": "Dashboard",
            "refresh": 5,
            "states": states,
            "agents": agents,
            "class_waits": class_waits,
            "running": running.iter().map(row).collect::<Vec<_>>(),
            "completed": completed.iter().map(row).collect::<Vec<_>>(),
            "failed": failures.into_iter().map(row).collect::<Vec<_>>(),
        }),
    )?;
    Ok(Html(page))
}

async fn job_detail(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
) -> Result<Html<String>, ApiError> {
    let id = raw
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no task with id `{raw}`")))?;
    let q = state.queue.clone();
    let job = tokio::task::spawn_blocking(move || q.get(id))
        .await??
        .ok_or_else(|| ApiError::NotFound(format!("no task with id `{id}`")))?;
    Ok(Html(state.dashboard.job_page(&job, None)?))
}

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/dashboard", get(overview))
        .route("/dashboard/jobs/{task_id}", get(job_detail))
        .route(
            "/dashboard/batches/{batch_id}",
            get(crate::api::handlers::batch_page),
        )
}
