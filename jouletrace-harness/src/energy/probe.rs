//! The once-per-run check that a counter which opened also measures.
//!
//! A hypervisor that does not emulate RAPL can still let the power PMU open: the counter then
//! reads 0 forever. Spinning on a CPU of each primary domain for a moment and seeing the counter
//! move is the only reliable test, so [`select`](super::select) runs it before trusting a meter.

use std::time::{Duration, Instant};

use crate::energy::{Meter, Unavailable};

/// Keeps one CPU (or, with `None`, whichever CPU the scheduler picks) busy for `busy`, on a
/// thread of its own so the caller's affinity is untouched.
pub fn spin_on(cpu: Option<u32>, busy: Duration) {
    let worker = std::thread::spawn(move || {
        if let Some(cpu) = cpu {
            let mut set = nix::sched::CpuSet::new();
            // A CPU we may not run on just means the spin lands elsewhere; the probe then fails
            // honestly rather than falsely succeeding.
            if set.set(cpu as usize).is_ok() {
                let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
            }
        }
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < busy {
            for i in 0..1000u64 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
            }
        }
        std::hint::black_box(x);
    });
    let _ = worker.join();
}

/// Reads `meter`, keeps one CPU of every primary domain busy for `busy`, reads again, and
/// returns `Unavailable` unless every primary domain's energy went up.
pub fn probe_advances(meter: &mut dyn Meter, busy: Duration) -> Result<(), Unavailable> {
    let backend = meter.info().backend;
    let mut targets: Vec<Option<u32>> = meter
        .info()
        .primary_domains()
        .map(|d| d.cpus.first().copied())
        .collect();
    targets.sort_unstable();
    targets.dedup();
    let read_failed = |e: crate::energy::MeterError| {
        Unavailable::new(
            backend,
            format!("the counter opened but could not be read: {e}"),
        )
    };
    let a = meter.read().map_err(read_failed)?;
    std::thread::scope(|s| {
        for &cpu in &targets {
            s.spawn(move || spin_on(cpu, busy));
        }
    });
    let b = meter.read().map_err(read_failed)?;
    let energies = meter.energy_between(&a, &b);
    let info = meter.info();
    let stuck: Vec<&str> = info
        .primary_domains()
        .filter(|d| {
            !energies
                .iter()
                .any(|e| e.domain == d.id && e.energy.get() > 0.0)
        })
        .map(|d| d.id.as_str())
        .collect();
    if stuck.is_empty() {
        return Ok(());
    }
    Err(Unavailable::new(
        backend,
        format!(
            "opened but did not advance: {} read no energy over a {} ms busy probe; \
             a VM that does not emulate RAPL?",
            stuck.join(", "),
            busy.as_millis()
        ),
    )
    .with_remedy(
        "measure on bare metal or a VM that passes RAPL through; `cargo joule doctor` shows \
         what this machine offers; `--meter estimate` gives estimated figures meanwhile",
    ))
}
