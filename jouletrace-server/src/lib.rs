//! The JouleTrace measurement service, as a library the `jouletrace-server` binary runs.
//!
//! The crate is transport over the `jouletrace` library: the HTTP API ([`api`]) accepts the
//! predecessor's requests (the job spec is `jouletrace::job`, shared with `cargo joule measure`),
//! stores them in a durable [`queue`], and an [`agent`] leases them and runs each in a worker
//! process that calls the engine. The design note is `docs/service.md`.

pub mod queue;
