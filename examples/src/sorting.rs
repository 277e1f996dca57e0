//! Sorting `u32`s: two textbook algorithms to measure against the standard library's.

/// Insertion sort: O(n²) moves, but tight and cache-friendly on short inputs.
pub fn insertion_sort(v: &mut [u32]) {
    for i in 1..v.len() {
        let x = v[i];
        let mut j = i;
        while j > 0 && v[j - 1] > x {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = x;
    }
}

/// Top-down merge sort with one scratch buffer: O(n log n) comparisons, O(n) extra memory.
pub fn merge_sort(v: &mut [u32]) {
    let mut scratch = v.to_vec();
    sort_into(&mut scratch, v);
}

/// Sorts `dst` using `src`, which holds the same elements on entry, as scratch space.
fn sort_into(src: &mut [u32], dst: &mut [u32]) {
    let n = dst.len();
    if n <= 1 {
        return;
    }
    let mid = n / 2;
    // Sort each half of `src` (using `dst` as scratch), then merge the halves into `dst`.
    sort_into(&mut dst[..mid], &mut src[..mid]);
    sort_into(&mut dst[mid..], &mut src[mid..]);
    let (left, right) = src.split_at(mid);
    let (mut i, mut j) = (0, 0);
    for slot in dst.iter_mut() {
        if j == right.len() || (i < left.len() && left[i] <= right[j]) {
            *slot = left[i];
            i += 1;
        } else {
            *slot = right[j];
            j += 1;
        }
    }
}

/// The sorted order by counting occurrences in a `BTreeMap`: slow, but shares no code with any
/// candidate, which is what an independent source of expected answers needs.
pub fn sorted_by_counting(v: &[u32]) -> Vec<u32> {
    let mut counts = std::collections::BTreeMap::<u32, usize>::new();
    for &x in v {
        *counts.entry(x).or_default() += 1;
    }
    counts
        .into_iter()
        .flat_map(|(x, n)| std::iter::repeat_n(x, n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sorts_agree_with_counting_on_random_data() {
        for n in [0, 1, 2, 3, 17, 256] {
            let v = crate::data::random_u32s(n, n as u64);
            let expected = sorted_by_counting(&v);
            let mut a = v.clone();
            insertion_sort(&mut a);
            let mut b = v.clone();
            merge_sort(&mut b);
            assert_eq!(a, expected);
            assert_eq!(b, expected);
        }
    }
}
