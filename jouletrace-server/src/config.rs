//! The server's configuration: CLI flags and environment variables, parsed once into
//! [`ServerConfig`], which nothing downstream re-parses.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::auth::{KeyError, KeyStore};

#[derive(Debug, Parser)]
#[command(
    name = "jouletrace-server",
    version,
    about = "The JouleTrace measurement service: submit candidates over HTTP, get their energy back."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API, the dashboard and the metrics, with a measuring agent in the same process.
    Serve(Box<ServeArgs>),
    /// Print the stored form of an API key (read from stdin) for the keys file.
    HashKey {
        /// The key's name, shown in logs and metrics (never the key itself).
        #[arg(long)]
        id: String,
    },
    /// Run one job (its spec on stdin) and write events and the outcome as JSON lines on stdout.
    /// Started by the agent for every job; not meant to be run by hand.
    #[command(hide = true)]
    Worker(WorkerArgs),
    // fleet: one measuring agent per host, for a fleet sharing a Redis queue (issue 15).
    /// Run a measuring agent only (no HTTP): leases jobs from a shared Redis queue, runs them on
    /// this host's cores, registers the host with a heartbeat; drains on SIGTERM.
    Agent(Box<crate::fleet::command::AgentArgs>),
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Check only (`POST /api/v1/validate`), no measurement.
    #[arg(long)]
    pub validate_only: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Anything but loopback requires API keys.
    #[arg(long, env = "JOULETRACE_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
    /// Where the queue database lives [default: <state dir>/jouletrace-server].
    #[arg(long, env = "JOULETRACE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Jobs waiting or running before new submissions get 503 with Retry-After.
    #[arg(long, env = "JOULETRACE_MAX_QUEUE", default_value_t = 10_000)]
    pub max_queue: u64,
    /// Largest request body, in bytes.
    #[arg(long, env = "JOULETRACE_MAX_BODY_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Most test cases in one job.
    #[arg(long, env = "JOULETRACE_MAX_TEST_CASES", default_value_t = 1_000)]
    pub max_test_cases: usize,
    /// Most jobs in one batch.
    #[arg(long, env = "JOULETRACE_MAX_BATCH_JOBS", default_value_t = 1_000)]
    pub max_batch_jobs: usize,
    /// How long finished jobs are kept (`24h`, `7d`).
    #[arg(long, env = "JOULETRACE_RETENTION", default_value = "24h", value_parser = humantime::parse_duration)]
    pub retention: Duration,
    /// How long an agent's lease on a job lasts without a heartbeat.
    #[arg(long, env = "JOULETRACE_LEASE_TTL", default_value = "30s", value_parser = humantime::parse_duration)]
    pub lease_ttl: Duration,
    /// Leases that may expire on one job before it fails as `worker_lost`.
    #[arg(long, env = "JOULETRACE_MAX_ATTEMPTS", default_value_t = 3)]
    pub max_attempts: u32,
    /// Time limit of one HTTP request (a `/validate` included).
    #[arg(long, env = "JOULETRACE_REQUEST_TIMEOUT", default_value = "120s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    // fleet: the queue backend (issue 15).
    /// The queue: the embedded SQLite file in the data directory (default), or a Redis shared
    /// by a fleet of API nodes and agents: `redis://[:password@]host:6379/0`.
    #[arg(long = "queue", env = "JOULETRACE_QUEUE", hide_env_values = true)]
    pub queue: Option<String>,
    /// Prefix of every Redis key (several services can share one Redis).
    #[arg(long, env = "JOULETRACE_QUEUE_NAMESPACE", default_value = "jouletrace")]
    pub queue_namespace: String,
    /// Serve only; run no measuring agent in this process.
    #[arg(long, env = "JOULETRACE_NO_AGENT")]
    pub no_agent: bool,
    /// Jobs this agent runs at once. Measured windows never overlap regardless (the engine's
    /// lanes and the machine-wide lock); more slots overlap checks with measurement.
    #[arg(long, env = "JOULETRACE_AGENT_SLOTS", default_value_t = 1)]
    pub agent_slots: usize,
    /// Origins allowed by CORS (repeat or comma-separate). CORS is off when none is given.
    #[arg(
        long = "cors-origin",
        env = "JOULETRACE_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// API keys file: one `<id> sha256:<hex> [rate=N/min] [concurrency=N] [revoked]` per line.
    #[arg(long, env = "JOULETRACE_API_KEYS_FILE")]
    pub api_keys_file: Option<PathBuf>,
    /// API keys in the same format, lines separated by `;`.
    #[arg(long, env = "JOULETRACE_API_KEYS", hide_env_values = true)]
    pub api_keys: Option<String>,
    /// Requests per minute per key, unless the key says otherwise.
    #[arg(long, env = "JOULETRACE_RATE_LIMIT", default_value_t = 600)]
    pub rate_limit_per_minute: u32,
    /// Unfinished jobs per key, unless the key says otherwise.
    #[arg(long, env = "JOULETRACE_KEY_CONCURRENCY", default_value_t = 1_000)]
    pub key_concurrency: u32,
}

/// The resolved configuration.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub max_queue: u64,
    pub max_body_bytes: usize,
    pub max_test_cases: usize,
    pub max_batch_jobs: usize,
    pub retention: Duration,
    pub lease_ttl: Duration,
    pub max_attempts: u32,
    pub request_timeout: Duration,
    pub agent: bool,
    pub agent_slots: usize,
    pub cors_origins: Vec<String>,
    pub keys: KeyStore,
    // fleet
    pub queue: QueueBackend,
}

// fleet: which queue backend (issue 15).
/// Where jobs and results live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueBackend {
    /// The embedded SQLite file in the data directory: one process, no external service.
    Embedded,
    /// A Redis shared by any number of API nodes and agents.
    Redis { url: String, namespace: String },
}

impl QueueBackend {
    /// `None` or `sqlite` is the embedded queue; `redis://`, `rediss://`, `redis+unix://` and
    /// `unix://` URLs are Redis.
    pub fn parse(url: Option<&str>, namespace: &str) -> Result<QueueBackend, ConfigError> {
        match url.map(str::trim) {
            None | Some("") | Some("sqlite") | Some("embedded") => Ok(QueueBackend::Embedded),
            Some(u)
                if ["redis://", "rediss://", "redis+unix://", "unix://"]
                    .iter()
                    .any(|s| u.starts_with(s)) =>
            {
                if namespace.is_empty() || namespace.contains(char::is_whitespace) {
                    return Err(ConfigError::QueueNamespace(namespace.to_owned()));
                }
                Ok(QueueBackend::Redis {
                    url: u.to_owned(),
                    namespace: namespace.to_owned(),
                })
            }
            Some(u) => Err(ConfigError::QueueUrl(crate::queue::redact_url(u))),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            QueueBackend::Embedded => "sqlite",
            QueueBackend::Redis { .. } => "redis",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no data directory: neither --data-dir, JOULETRACE_DATA_DIR nor a user state/data directory is known"
    )]
    NoDataDir,
    #[error(
        "listening on {0} (not loopback) requires API keys: give --api-keys-file or JOULETRACE_API_KEYS \
         (make one with `jouletrace-server hash-key --id NAME`)"
    )]
    KeysRequired(SocketAddr),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("--agent-slots must be at least 1")]
    NoSlots,
    // fleet
    #[error(
        "--queue / JOULETRACE_QUEUE: `{0}` is not a queue: give `redis://host:6379/0` (or \
         rediss://, unix://) for a fleet, or leave it unset for the embedded queue"
    )]
    QueueUrl(String),
    #[error("--queue-namespace: `{0}` must be non-empty and without spaces")]
    QueueNamespace(String),
}

impl ServeArgs {
    pub fn resolve(self) -> Result<ServerConfig, ConfigError> {
        let data_dir = match self.data_dir {
            Some(d) => d,
            None => dirs::state_dir()
                .or_else(dirs::data_local_dir)
                .ok_or(ConfigError::NoDataDir)?
                .join("jouletrace-server"),
        };
        let mut keys = KeyStore::default();
        if let Some(file) = &self.api_keys_file {
            keys.load_file(file, self.rate_limit_per_minute, self.key_concurrency)?;
        }
        if let Some(text) = &self.api_keys {
            keys.load_text(
                "JOULETRACE_API_KEYS",
                &text.replace(';', "\n"),
                self.rate_limit_per_minute,
                self.key_concurrency,
            )?;
        }
        if !self.listen.ip().is_loopback() && keys.is_empty() {
            return Err(ConfigError::KeysRequired(self.listen));
        }
        if self.agent_slots == 0 {
            return Err(ConfigError::NoSlots);
        }
        let queue = QueueBackend::parse(self.queue.as_deref(), &self.queue_namespace)?;
        Ok(ServerConfig {
            listen: self.listen,
            data_dir,
            max_queue: self.max_queue,
            max_body_bytes: self.max_body_bytes,
            max_test_cases: self.max_test_cases,
            max_batch_jobs: self.max_batch_jobs,
            retention: self.retention,
            lease_ttl: self.lease_ttl,
            max_attempts: self.max_attempts,
            request_timeout: self.request_timeout,
            agent: !self.no_agent,
            agent_slots: self.agent_slots,
            cors_origins: self.cors_origins,
            keys,
            queue,
        })
    }
}
