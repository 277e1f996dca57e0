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
}
