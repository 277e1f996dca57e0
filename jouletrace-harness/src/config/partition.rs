//! Sharding a run across machines: `--partition hash:M/N` or `slice:M/N`.
//!
//! Both kinds decide membership from the candidate alone (its id, or its position in the sorted
//! ids of every candidate of the run's targets, counted before name filters), so N machines that see the same candidates split them
//! into N disjoint shards whose union is the whole run, with no coordination between them.
//!
//! - `hash:M/N` keeps the candidates whose FNV-1a hash of the id is `M - 1` modulo N. A candidate
//!   stays in its shard when others are added or removed, which keeps shard histories comparable.
//! - `slice:M/N` deals the sorted ids round-robin: positions `M - 1`, `M - 1 + N`, … Shards are as
//!   even as possible, but adding a candidate moves the ones after it.
//!
//! The hash is spelled out here rather than taken from `std`, whose hasher is randomly keyed per
//! process and would give every machine a different split.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PartitionKind {
    Hash,
    Slice,
}

/// Shard `index` (1-based) of `total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Partition {
    pub kind: PartitionKind,
    pub index: u32,
    pub total: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "bad partition `{text}`: {reason}; expected `hash:M/N` or `slice:M/N` with 1 ≤ M ≤ N \
     (e.g. `hash:1/3`)"
)]
pub struct PartitionError {
    pub text: String,
    pub reason: String,
}

impl Partition {
    /// Whether the candidate `id`, at position `index_in_sorted` (0-based) of the sorted ids of
    /// every candidate of the run (before name filters, as the engine counts), is in this shard.
    pub fn selects(&self, id: &str, index_in_sorted: usize) -> bool {
        let total = u64::from(self.total);
        let bucket = match self.kind {
            PartitionKind::Hash => fnv1a64(id.as_bytes()) % total,
            PartitionKind::Slice => index_in_sorted as u64 % total,
        };
        bucket == u64::from(self.index - 1)
    }
}

/// 64-bit FNV-1a: tiny, stable across platforms and releases.
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

impl FromStr for Partition {
    type Err = PartitionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| PartitionError {
            text: text.to_owned(),
            reason: reason.to_owned(),
        };
        let (kind, rest) = text
            .split_once(':')
            .ok_or_else(|| err("missing `hash:` or `slice:`"))?;
        let kind = match kind {
            "hash" => PartitionKind::Hash,
            "slice" => PartitionKind::Slice,
            _ => return Err(err(&format!("unknown kind `{kind}`"))),
        };
        let (m, n) = rest.split_once('/').ok_or_else(|| err("missing `/N`"))?;
        let index: u32 = m
            .trim()
            .parse()
            .map_err(|_| err(&format!("`{m}` is not a shard number")))?;
        let total: u32 = n
            .trim()
            .parse()
            .map_err(|_| err(&format!("`{n}` is not a shard count")))?;
        if total == 0 || index == 0 || index > total {
            return Err(err(&format!("shard {index} of {total} does not exist")));
        }
        Ok(Partition { kind, index, total })
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            PartitionKind::Hash => "hash",
            PartitionKind::Slice => "slice",
        };
        write!(f, "{kind}:{}/{}", self.index, self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<String> {
        let mut ids: Vec<String> = (0..57)
            .map(|i| format!("problem{}::candidate_{i}", i % 5))
            .collect();
        ids.sort();
        ids
    }

    #[test]
    fn every_candidate_lands_in_exactly_one_shard() {
        for kind in ["hash", "slice"] {
            for total in 1..=5u32 {
                let shards: Vec<Partition> = (1..=total)
                    .map(|m| format!("{kind}:{m}/{total}").parse().unwrap())
                    .collect();
                for (i, id) in ids().iter().enumerate() {
                    let owners = shards.iter().filter(|p| p.selects(id, i)).count();
                    assert_eq!(owners, 1, "{id} in {owners} shards of {kind}:_/{total}");
                }
            }
        }
    }

    #[test]
    fn slices_are_even_and_hashes_are_stable() {
        let ids = ids();
        let sizes: Vec<usize> = (1..=4)
            .map(|m| {
                let p = Partition {
                    kind: PartitionKind::Slice,
                    index: m,
                    total: 4,
                };
                ids.iter()
                    .enumerate()
                    .filter(|(i, id)| p.selects(id, *i))
                    .count()
            })
            .collect();
        assert_eq!(sizes, vec![15, 14, 14, 14]);
        // Pinned: a changed hash would silently reshuffle every CI's shards.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        let h = Partition {
            kind: PartitionKind::Hash,
            index: 1,
            total: 3,
        };
        assert_eq!(
            h.selects("sort::std_sort", 0),
            h.selects("sort::std_sort", 99)
        );
    }

    #[test]
    fn parses_and_prints() {
        let p: Partition = "hash:2/3".parse().unwrap();
        assert_eq!(
            p,
            Partition {
                kind: PartitionKind::Hash,
                index: 2,
                total: 3
            }
        );
        assert_eq!(p.to_string(), "hash:2/3");
        assert_eq!(
            "slice:1/1".parse::<Partition>().unwrap().to_string(),
            "slice:1/1"
        );
        for bad in [
            "hash:0/3",
            "hash:4/3",
            "count:1/2",
            "hash:1",
            "1/2",
            "slice:a/2",
            "hash:1/0",
        ] {
            let e = bad.parse::<Partition>().unwrap_err();
            assert!(e.to_string().contains("hash:M/N"), "{e}");
        }
    }
}
