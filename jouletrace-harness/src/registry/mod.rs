//! What `#[joule_bench]` and `#[joule_cases]` register, and how it is collected.
//!
//! The macros expand to `inventory::submit!` of a [`CandidateEntry`] or [`ProblemEntry`]; nothing
//! else in the expansion touches the library outside `jouletrace::__private`. [`Registry::collect`]
//! gathers what the final binary linked, sorted and validated.
//!
//! Candidates that live in a library crate are only collected when the bench binary links that
//! library: a bench that never names it collects nothing. `jouletrace::main!(my_lib)` (or
//! `use my_lib as _;`) makes the link explicit.
//!
//! Candidates that are data (a [`Job`](crate::job::Job) for a language host) are described in
//! the same [`CandidateDescriptor`] shape by [`Job::descriptors`](crate::job::Job::descriptors).

mod compare;
mod descriptor;
mod entry;
mod typed;

pub use compare::ApproxEq;
pub use descriptor::CandidateDescriptor;
pub use entry::{CandidateEntry, CandidateOptions, ProblemEntry};
pub use typed::{
    CaseInfo, CheckEvent, CheckOutcome, ErasedCandidate, Mismatch, PreparedCase, Typed,
    WindowHooks, cmp_eq, cmp_tolerance, for_problem, typed,
};

use std::collections::BTreeMap;

/// A problem's name as the macros see it: the key that ties cases to candidates.
pub trait Problem {
    type Input;
    type Output;
    const NAME: &'static str;
    fn cases() -> Vec<crate::Case<Self::Input, Self::Output>>;
}

/// Everything one binary registered, in a stable order (problem, then candidate name).
pub struct Registry {
    pub candidates: Vec<&'static CandidateEntry>,
    pub problems: Vec<&'static ProblemEntry>,
}

/// Registrations that cannot work together; found at start-up, before anything runs.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "problem `{problem}` has two case sets: {first} and {second}; a problem takes exactly one \
         #[joule_cases] function"
    )]
    DuplicateCases {
        problem: String,
        first: String,
        second: String,
    },
    #[error("candidate `{id}` is registered twice: {first} and {second}")]
    DuplicateCandidate {
        id: String,
        first: String,
        second: String,
    },
}

inventory::collect!(CandidateEntry);
inventory::collect!(ProblemEntry);

impl Registry {
    /// The registrations linked into this binary.
    pub fn collect() -> Result<Registry, RegistryError> {
        Self::from_entries(
            inventory::iter::<CandidateEntry>.into_iter().collect(),
            inventory::iter::<ProblemEntry>.into_iter().collect(),
        )
    }

    pub fn from_entries(
        mut candidates: Vec<&'static CandidateEntry>,
        mut problems: Vec<&'static ProblemEntry>,
    ) -> Result<Registry, RegistryError> {
        problems.sort_by(|a, b| (a.problem, a.file, a.line).cmp(&(b.problem, b.file, b.line)));
        for pair in problems.windows(2) {
            if pair[0].problem == pair[1].problem {
                return Err(RegistryError::DuplicateCases {
                    problem: pair[0].problem.to_owned(),
                    first: pair[0].location(),
                    second: pair[1].location(),
                });
            }
        }
        candidates.sort_by(|a, b| (a.problem, a.name, a.file).cmp(&(b.problem, b.name, b.file)));
        let mut seen: BTreeMap<String, &CandidateEntry> = BTreeMap::new();
        for c in &candidates {
            if let Some(first) = seen.insert(c.id(), c) {
                return Err(RegistryError::DuplicateCandidate {
                    id: c.id(),
                    first: first.location(),
                    second: c.location(),
                });
            }
        }
        Ok(Registry {
            candidates,
            problems,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.candidates.is_empty()
    }

    /// The candidate whose [`CandidateEntry::id`] is `id`.
    pub fn find(&self, id: &str) -> Option<&'static CandidateEntry> {
        self.candidates.iter().copied().find(|c| c.id() == id)
    }

    /// Problems in order, each with its candidates.
    pub fn by_problem(&self) -> BTreeMap<&'static str, Vec<&'static CandidateEntry>> {
        let mut map: BTreeMap<&'static str, Vec<&'static CandidateEntry>> = BTreeMap::new();
        for c in &self.candidates {
            map.entry(c.problem).or_default().push(c);
        }
        map
    }
}
