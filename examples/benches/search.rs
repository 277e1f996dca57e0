//! Substring search: naive, Knuth–Morris–Pratt and `str::find` on the same inputs. The input is
//! `(haystack, needle)`; candidates borrow both as `&str`.

use jouletrace::prelude::*;
use jouletrace_examples::search;

type Input = (String, String);

fn case(
    id: &str,
    haystack: &str,
    needle: &str,
    expected: Option<usize>,
) -> Case<Input, Option<usize>> {
    Case::new(id, (haystack.to_owned(), needle.to_owned()), expected)
}

#[joule_cases(problem = "substring")]
fn cases() -> Vec<Case<Input, Option<usize>>> {
    let mut cases = vec![
        case("word", "hello world", "world", Some(6)).check_only(),
        case("prefix", "hello", "he", Some(0)).check_only(),
        case("absent", "hello", "xyz", None).check_only(),
        case("empty-needle", "abc", "", Some(0)).check_only(),
        case("empty-both", "", "", Some(0)).check_only(),
        case("needle-longer", "ab", "abc", None).check_only(),
        case("false-start", "aaaaab", "aab", Some(3)).check_only(),
        case("overlap", "abababc", "ababc", Some(2)).check_only(),
        case("first-of-two", "abcXabcX", "abcX", Some(0)).check_only(),
        // Offsets are in bytes: `ï` takes two.
        case("utf8", "naïve café", "café", Some(7)).check_only(),
    ];
    // Measured inputs, with answers known by construction.
    for n in [1_000usize, 10_000, 100_000] {
        // Naive search's worst case: every offset matches 63 bytes before failing.
        let haystack = format!("{}b", "a".repeat(n));
        let needle = format!("{}b", "a".repeat(63));
        cases.push(
            Case::new(format!("worst-case-{n}"), (haystack, needle), Some(n - 63))
                .size(n as u64 + 1),
        );
        // Text-like: a sentence repeated, with a marked sentence at the end.
        let sentence = "the quick brown fox jumps over the lazy dog; ";
        let repeats = n / sentence.len();
        let haystack = format!("{}the quick brown cat", sentence.repeat(repeats));
        cases.push(
            Case::new(
                format!("text-{n}"),
                (haystack.clone(), "quick brown cat".to_owned()),
                Some(repeats * sentence.len() + 4),
            )
            .size(haystack.len() as u64),
        );
    }
    cases
}

#[joule_bench(problem = "substring")]
fn naive(haystack: &str, needle: &str) -> Option<usize> {
    search::naive(haystack, needle)
}

#[joule_bench(problem = "substring")]
fn kmp(haystack: &str, needle: &str) -> Option<usize> {
    search::kmp(haystack, needle)
}

#[joule_bench(problem = "substring")]
fn std_find(haystack: &str, needle: &str) -> Option<usize> {
    haystack.find(needle)
}

jouletrace::main!();
