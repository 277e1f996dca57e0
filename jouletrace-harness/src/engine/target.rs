//! What a run is given: bench binaries, and the candidates they describe.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::registry::{CandidateOptions, CaseInfo};

/// A bench binary whose candidates take part in a run.
#[derive(Clone, Debug)]
pub struct Target {
    pub binary: PathBuf,
    /// How reports name it: `package/bench`.
    pub label: String,
    /// Working directory for its workers (the package root under cargo).
    pub cwd: Option<PathBuf>,
}

/// A candidate as a worker describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateDescriptor {
    pub id: String,
    pub problem: String,
    pub name: String,
    pub location: String,
    pub options: CandidateOptions,
    pub cases: Vec<CaseInfo>,
}
