//! Substring search: the first byte offset of `needle` in `haystack`, as `str::find` gives it.

/// Tries every offset: O(n·m) comparisons in the worst case (`aaa…ab` in `aaa…a`).
pub fn naive(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    if n.len() > h.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| &h[i..i + n.len()] == n)
}

/// Knuth–Morris–Pratt: O(n + m). After a mismatch the failure table says how much of the needle
/// is already matched, so no haystack byte is read twice.
pub fn kmp(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    if n.is_empty() {
        return Some(0);
    }
    let fail = failure_table(n);
    let mut matched = 0;
    for (i, &b) in h.iter().enumerate() {
        while matched > 0 && n[matched] != b {
            matched = fail[matched - 1];
        }
        if n[matched] == b {
            matched += 1;
            if matched == n.len() {
                return Some(i + 1 - n.len());
            }
        }
    }
    None
}

/// `fail[i]`: the length of the longest proper prefix of `needle[..=i]` that is also its suffix.
fn failure_table(needle: &[u8]) -> Vec<usize> {
    let mut fail = vec![0; needle.len()];
    let mut k = 0;
    for i in 1..needle.len() {
        while k > 0 && needle[i] != needle[k] {
            k = fail[k - 1];
        }
        if needle[i] == needle[k] {
            k += 1;
        }
        fail[i] = k;
    }
    fail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failure_table_of_a_classic_pattern() {
        assert_eq!(failure_table(b"ababaca"), [0, 0, 1, 2, 3, 0, 1]);
    }

    #[test]
    fn both_agree_with_str_find_on_every_short_needle_of_a_text() {
        let text = "abracadabra abracadabra cadabra";
        for start in 0..text.len() {
            for end in start..=text.len().min(start + 8) {
                let needle = &text[start..end];
                assert_eq!(naive(text, needle), text.find(needle), "{needle:?}");
                assert_eq!(kmp(text, needle), text.find(needle), "{needle:?}");
            }
        }
    }
}
