//! Live progress while a run checks and measures, drawn with `indicatif` on stderr.
//!
//! Checking shows one bar, candidates checked out of all. Measuring shows an overall bar of
//! (candidate, case) measurements with an ETA, and one bar per measurement in flight with its
//! samples. Notes from the engine are printed above the bars. Bars are hidden when stderr is not
//! a terminal or the user asked for quiet; notes are still printed then, as plain lines, because
//! the engine only sends what the user must see (the estimate meter is in use, …).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::{Event, Observer};
use crate::results::{CaseMeasurement, CheckRecord, LockMode};

/// An [`Observer`] that draws progress bars.
pub struct ProgressObserver {
    multi: MultiProgress,
    hidden: bool,
    quiet: bool,
    check: Option<ProgressBar>,
    overall: Option<ProgressBar>,
    running: HashMap<(String, String), ProgressBar>,
    measured_cases: u64,
    measured_total: u64,
}

impl ProgressObserver {
    /// Bars on stderr when it is a terminal and `quiet` is false.
    pub fn new(quiet: bool) -> Self {
        let target = if quiet || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        Self::with_target(target, quiet)
    }

    /// Draws to `target` (tests use [`ProgressDrawTarget::hidden`]).
    pub fn with_target(target: ProgressDrawTarget, quiet: bool) -> Self {
        let hidden = target.is_hidden();
        ProgressObserver {
            multi: MultiProgress::with_draw_target(target),
            hidden,
            quiet,
            check: None,
            overall: None,
            running: HashMap::new(),
            measured_cases: 0,
            measured_total: 0,
        }
    }

    /// Whether bars are being drawn.
    pub fn is_drawing(&self) -> bool {
        !self.hidden
    }

    fn style(template: &str) -> ProgressStyle {
        ProgressStyle::with_template(template)
            .expect("the progress templates are fixed and valid")
            .progress_chars("━╸ ")
    }

    fn print(&self, line: &str) {
        if self.hidden {
            if !self.quiet {
                eprintln!("{line}");
            }
        } else {
            // Above the bars; an error here means stderr is gone, and there is no one to tell.
            let _ = self.multi.println(line);
        }
    }

    fn overall(&mut self) -> &ProgressBar {
        if self.overall.is_none() {
            if let Some(check) = self.check.take() {
                check.finish_and_clear();
            }
            let bar = self.multi.add(ProgressBar::new(self.measured_total.max(1)));
            bar.set_style(Self::style(
                "{prefix:>10.bold} [{bar:30.green}] {pos}/{len} measurements  {elapsed} elapsed, ETA {eta}",
            ));
            bar.set_prefix("measuring");
            bar.enable_steady_tick(Duration::from_millis(200));
            self.overall = Some(bar);
        }
        self.overall.as_ref().expect("set above")
    }
}

impl ProgressObserver {
    fn on_plan(&mut self, candidates: usize, measured_cases: usize) {
        let bar = self.multi.add(ProgressBar::new(candidates as u64));
        bar.set_style(Self::style(
            "{prefix:>10.bold} [{bar:30.cyan}] {pos}/{len} candidates  {wide_msg}",
        ));
        bar.set_prefix("checking");
        bar.enable_steady_tick(Duration::from_millis(200));
        self.check = Some(bar);
        // Measurements planned before checks: every candidate on every measured case. Failed
        // checks shrink it as they arrive.
        self.measured_cases = measured_cases as u64;
        self.measured_total = (candidates * measured_cases) as u64;
    }

    fn on_note(&mut self, message: &str) {
        self.print(&format!("note: {message}"));
    }

    fn on_check_started(&mut self, candidate: &str) {
        if let Some(bar) = &self.check {
            bar.set_message(candidate.to_string());
        }
    }

    fn on_check_finished(&mut self, candidate: &str, record: &CheckRecord) {
        if let Some(bar) = &self.check {
            bar.inc(1);
        }
        if record.status.is_failure() {
            self.measured_total = self.measured_total.saturating_sub(self.measured_cases);
            let reason = record
                .failure
                .as_ref()
                .map(|f| f.message.as_str())
                .unwrap_or("no details");
            self.print(&format!(
                "FAILED {candidate}: {} — {reason}",
                record.status.as_str()
            ));
        }
    }

    fn on_measure_started(&mut self, candidate: &str, case: &str, planned_samples: u32) {
        self.overall();
        let bar = self.multi.add(ProgressBar::new(u64::from(planned_samples)));
        bar.set_style(Self::style(
            "{prefix:>10} [{bar:30.blue}] {pos}/{len} samples  ETA {eta}  {wide_msg}",
        ));
        bar.set_prefix("");
        bar.set_message(format!("{candidate} · {case}"));
        self.running
            .insert((candidate.to_string(), case.to_string()), bar);
    }

    fn on_sample(&mut self, candidate: &str, case: &str, done: u32) {
        if let Some(bar) = self.running.get(&(candidate.to_string(), case.to_string())) {
            // Trials adapt: a measurement may take more samples than first planned.
            if u64::from(done) > bar.length().unwrap_or(0) {
                bar.set_length(u64::from(done));
            }
            bar.set_position(u64::from(done));
        }
    }

    fn on_measure_finished(&mut self, candidate: &str, case: &str, m: &CaseMeasurement) {
        if let Some(bar) = self
            .running
            .remove(&(candidate.to_string(), case.to_string()))
        {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        let overall = self.overall();
        if overall.position() + 1 > overall.length().unwrap_or(0) {
            overall.inc_length(1);
        }
        overall.inc(1);
        if let Some(f) = &m.failure {
            self.print(&format!(
                "measurement of {candidate} on {case} stopped: {} — {}",
                f.kind.as_str(),
                f.message
            ));
        }
    }

    fn on_finished(&mut self) {
        for (_, bar) in self.running.drain() {
            bar.finish_and_clear();
        }
        if let Some(bar) = self.check.take() {
            bar.finish_and_clear();
        }
        if let Some(bar) = self.overall.take() {
            bar.finish_and_clear();
        }
        let _ = self.multi.clear();
    }
}

impl Observer for ProgressObserver {
    fn event(&mut self, event: &Event) {
        match event {
            Event::Plan {
                candidates,
                measured_cases,
            } => self.on_plan(*candidates, *measured_cases),
            Event::Note { message } => self.on_note(message),
            Event::Warning { message } => self.print(&format!("warning: {message}")),
            Event::LockWaiting { path, mode } => self.print(&format!(
                "note: another JouleTrace run holds the machine's run lock ({path}); waiting to \
                 take it {} ({})",
                match mode {
                    LockMode::Shared => "to check",
                    LockMode::Exclusive => "to measure",
                },
                match mode {
                    LockMode::Shared => "runs may check together, but not while one measures",
                    LockMode::Exclusive => "a measuring run has the machine to itself",
                }
            )),
            Event::CheckStarted { candidate } => self.on_check_started(candidate),
            Event::CheckFinished { candidate, record } => self.on_check_finished(candidate, record),
            Event::MeasureStarted {
                candidate,
                case,
                planned,
            } => self.on_measure_started(candidate, case, *planned),
            Event::Sample {
                candidate,
                case,
                done,
                ..
            } => self.on_sample(candidate, case, *done),
            Event::MeasureFinished {
                candidate,
                case,
                measurement,
            } => self.on_measure_finished(candidate, case, measurement),
            Event::RunFinished { .. } => self.on_finished(),
            Event::LockAcquired { .. }
            | Event::IdleMeasured { .. }
            | Event::Candidate { .. }
            | Event::BaselineComparison { .. }
            | Event::Finished { .. } => {}
        }
    }
}
