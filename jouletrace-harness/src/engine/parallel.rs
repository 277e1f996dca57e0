//! A shared queue of jobs drained by one thread per lane, with messages funnelled back to the
//! calling thread (where the observer lives: it need not be `Send`).

use std::sync::Mutex;
use std::sync::mpsc::{Sender, channel};

use super::Event;
use crate::results::{CaseMeasurement, CheckRecord};

/// What a lane's thread sends back: events for the observer, and finished records by the
/// candidate's position in the plan.
pub(crate) enum Msg {
    Event(Event),
    Checked(usize, Box<CheckRecord>),
    Measured(usize, Box<CaseMeasurement>),
}

pub fn drain_queue<L: Sync, J: Send, E: Send>(
    lanes: &[L],
    jobs: Vec<J>,
    work: impl Fn(&L, J, &Sender<E>) + Sync,
    mut on_event: impl FnMut(E),
) {
    let queue = Mutex::new(jobs.into_iter());
    let (tx, rx) = channel();
    std::thread::scope(|s| {
        for lane in lanes {
            let tx = tx.clone();
            let queue = &queue;
            let work = &work;
            s.spawn(move || {
                loop {
                    let next = queue.lock().expect("job queue").next();
                    let Some(job) = next else { break };
                    work(lane, job, &tx);
                }
            });
        }
        drop(tx);
        for event in rx {
            on_event(event);
        }
    });
}

/// Like [`drain_queue`], for jobs that take turns: a lane takes the first queued job that
/// `fits` it, and `work` hands back a job that is not finished, which goes to the back of the
/// queue, behind every other. A lane stops when no queued job fits it (the jobs other lanes hold
/// come back to those lanes).
pub fn drain_rounds<L: Sync, J: Send, E: Send>(
    lanes: &[L],
    jobs: Vec<J>,
    fits: impl Fn(&L, &J) -> bool + Sync,
    work: impl Fn(&L, J, &Sender<E>) -> Option<J> + Sync,
    mut on_event: impl FnMut(E),
) {
    let queue = Mutex::new(std::collections::VecDeque::from(jobs));
    let (tx, rx) = channel();
    std::thread::scope(|s| {
        for lane in lanes {
            let tx = tx.clone();
            let (queue, fits, work) = (&queue, &fits, &work);
            s.spawn(move || {
                loop {
                    let next = {
                        let mut q = queue.lock().expect("job queue");
                        let at = q.iter().position(|j| fits(lane, j));
                        at.and_then(|i| q.remove(i))
                    };
                    let Some(job) = next else { break };
                    if let Some(again) = work(lane, job, &tx) {
                        queue.lock().expect("job queue").push_back(again);
                    }
                }
            });
        }
        drop(tx);
        for event in rx {
            on_event(event);
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_job_runs_once_and_events_arrive() {
        let lanes = [0, 1, 2];
        let mut seen = vec![];
        super::drain_queue(
            &lanes,
            (0..20).collect(),
            |_, j: u32, tx| tx.send(j * 2).unwrap(),
            |e| seen.push(e),
        );
        seen.sort();
        assert_eq!(seen, (0..20).map(|j| j * 2).collect::<Vec<_>>());
    }

    #[test]
    fn jobs_take_turns_until_done_and_stay_with_lanes_they_fit() {
        // Each job needs `n` turns; lane 1 takes only even jobs.
        let lanes = [0u32, 1];
        let turns = std::sync::Mutex::new(Vec::new());
        let mut done = vec![];
        super::drain_rounds(
            &lanes,
            (0..6u32).map(|j| (j, 3u32)).collect(),
            |lane, (j, _)| *lane == 0 || j % 2 == 0,
            |lane, (j, left), tx| {
                assert!(*lane == 0 || j % 2 == 0, "job {j} on lane {lane}");
                turns.lock().unwrap().push(j);
                if left == 1 {
                    tx.send(j).unwrap();
                    None
                } else {
                    Some((j, left - 1))
                }
            },
            |e| done.push(e),
        );
        done.sort();
        assert_eq!(done, (0..6).collect::<Vec<_>>());
        assert_eq!(turns.into_inner().unwrap().len(), 18);
        // One lane: the turns go round, every job's first before any job's second.
        let turns = std::sync::Mutex::new(Vec::new());
        super::drain_rounds(
            &[0u32],
            (0..3u32).map(|j| (j, 2u32)).collect(),
            |_, _| true,
            |_, (j, left), _: &std::sync::mpsc::Sender<()>| {
                turns.lock().unwrap().push(j);
                (left > 1).then_some((j, left - 1))
            },
            |_| {},
        );
        assert_eq!(turns.into_inner().unwrap(), [0, 1, 2, 0, 1, 2]);
    }
}
