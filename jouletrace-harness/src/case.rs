//! Test cases shared by the candidates of one problem.

/// One input with its expected output.
///
/// A case is checked against every candidate before anything is measured, and (unless it is
/// marked [`check_only`](Case::check_only)) measured afterwards. A case with a
/// [`size`](Case::size) is plotted against that size in the reports.
///
/// ```
/// use jouletrace::Case;
/// let c = Case::new("small", vec![3u32, 1, 2], vec![1u32, 2, 3]).size(3);
/// assert_eq!(c.id(), "small");
/// ```
#[derive(Clone, Debug)]
pub struct Case<I, O> {
    pub(crate) id: String,
    pub(crate) input: I,
    pub(crate) expected: O,
    pub(crate) size: Option<u64>,
    pub(crate) measure: bool,
}

impl<I, O> Case<I, O> {
    /// A case named `id` (unique within its problem) whose `input` must produce `expected`.
    pub fn new(id: impl Into<String>, input: I, expected: O) -> Self {
        Case {
            id: id.into(),
            input,
            expected,
            size: None,
            measure: true,
        }
    }

    /// The problem size of this input (elements, bytes, steps…), for energy-versus-size plots.
    pub fn size(mut self, size: u64) -> Self {
        self.size = Some(size);
        self
    }

    /// Checks correctness on this case but never measures energy on it (edge cases such as an
    /// empty input are worth checking, rarely worth measuring).
    pub fn check_only(mut self) -> Self {
        self.measure = false;
        self
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn input(&self) -> &I {
        &self.input
    }

    pub fn expected(&self) -> &O {
        &self.expected
    }

    pub fn problem_size(&self) -> Option<u64> {
        self.size
    }

    pub fn is_measured(&self) -> bool {
        self.measure
    }
}
