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

/// Whether two problem names are spelled the same, in a constant: the check `#[joule_bench]`
/// expands to, so that a candidate and its cases cannot disagree on `-` against `_`.
pub const fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// A problem name with `-` read as `_`: names equal under it are one problem misspelt.
fn spelling_key(name: &str) -> String {
    name.replace('-', "_")
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
    #[error(
        "problems `{first}` ({first_at}) and `{second}` ({second_at}) differ only in `-` against \
         `_`: spell them the same if they are one problem, or name them apart"
    )]
    SimilarNames {
        first: String,
        first_at: String,
        second: String,
        second_at: String,
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
        let mut by_key: BTreeMap<String, &ProblemEntry> = BTreeMap::new();
        for p in &problems {
            if let Some(first) = by_key.insert(spelling_key(p.problem), p) {
                return Err(RegistryError::SimilarNames {
                    first: first.problem.to_owned(),
                    first_at: first.location(),
                    second: p.problem.to_owned(),
                    second_at: p.location(),
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

#[cfg(test)]
mod tests {
    use super::*;

    static DASHED: ProblemEntry = ProblemEntry {
        problem: "fingerprint-eq",
        function: "cases",
        file: "benches/a.rs",
        line: 3,
    };
    static UNDERSCORED: ProblemEntry = ProblemEntry {
        problem: "fingerprint_eq",
        function: "cases",
        file: "benches/b.rs",
        line: 7,
    };

    #[test]
    fn problem_names_that_differ_only_in_punctuation_are_refused() {
        let err = Registry::from_entries(vec![], vec![&DASHED, &UNDERSCORED])
            .err()
            .expect("refused");
        let msg = err.to_string();
        assert!(
            msg.contains("`fingerprint-eq`") && msg.contains("`fingerprint_eq`"),
            "{msg}"
        );
        assert!(
            msg.contains("benches/a.rs:3") && msg.contains("benches/b.rs:7"),
            "{msg}"
        );
    }

    #[test]
    fn same_name_compares_exactly() {
        const { assert!(same_name("a-b", "a-b")) };
        assert!(!same_name("a-b", "a_b"));
        assert!(!same_name("ab", "abc"));
    }
}
