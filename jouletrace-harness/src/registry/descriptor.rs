//! The one shape of a candidate as a worker describes it, compiled or runtime.

use serde::{Deserialize, Serialize};

use super::{CandidateOptions, CaseInfo};

/// A candidate as a worker describes it in answer to `list`: the one registry shape that
/// compile-time (`#[joule_bench]`) and runtime (job file, see [`Job::descriptors`](crate::job::Job::descriptors))
/// candidates share. Everything downstream of listing (checks, measurements, results) works on
/// it, so it cannot tell the two apart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateDescriptor {
    pub id: String,
    pub problem: String,
    pub name: String,
    /// `file:line` for compiled candidates; `job:<candidate id>` for runtime ones.
    pub location: String,
    pub options: CandidateOptions,
    pub cases: Vec<CaseInfo>,
}
