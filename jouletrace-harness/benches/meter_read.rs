//! The cost of one meter reading per backend available here.
//!
//! Targets: perf ≤ 1 µs median, powercap ≤ 10 µs. Where the RAPL `power` PMU is absent (VMs,
//! hosted CI) the perf figure is for a software counter (`task-clock` of this process) read
//! through the same `PerfMeter` path: the same `read(2)` on a perf descriptor, without the
//! RAPL driver's register read. The benchmark id says which was measured. powercap is read
//! from a fake tree in tmpfs (`/dev/shm`), which measures our open/read/parse path but not the
//! kernel's MSR read behind a real `energy_uj`.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use jouletrace::Watts;
use jouletrace::energy::estimate::EstimateMeter;
use jouletrace::energy::perf::{CounterSource, PerfMeter, PlannedCounter};
use jouletrace::energy::powercap::PowercapMeter;
use jouletrace::energy::simulate::FakeMachine;
use jouletrace::energy::{Domain, DomainKind, Meter, Scope};
use jouletrace::sysfs::Sysfs;

fn perf_meter() -> (String, Box<dyn Meter>) {
    if let Ok(m) = PerfMeter::open(&Sysfs::default(), &[]) {
        return ("perf/rapl-power-pmu".into(), Box::new(m));
    }
    let mut counter = perf_event::Builder::new(perf_event::events::Software::TASK_CLOCK)
        .build()
        .expect("software perf events work on this machine kind");
    counter.enable().expect("enable task-clock");
    let plan = PlannedCounter {
        domain: Domain {
            id: "package-0".into(),
            kind: DomainKind::Package,
            scope: Scope::Package { package: 0 },
            cpus: vec![0],
        },
        pmu: "software".into(),
        event: "task-clock".into(),
        cpu: 0,
        scale: 1e-9,
    };
    let source: Box<dyn CounterSource> = Box::new(counter);
    let meter = PerfMeter::from_sources(vec![(plan, source)]).expect("one package domain");
    (
        "perf/software-stand-in-no-power-pmu".into(),
        Box::new(meter),
    )
}

fn bench(c: &mut Criterion) {
    // The price of entering the kernel at all on this machine: the floor under every
    // syscall-based reading (perf and the estimate make one, powercap three per domain).
    c.bench_function("floor/getppid-syscall", |b| {
        // SAFETY: getppid has no preconditions.
        b.iter(|| black_box(unsafe { libc::getppid() }))
    });

    let (name, mut perf) = perf_meter();
    c.bench_function(&name, |b| b.iter(|| black_box(perf.read().unwrap())));

    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .unwrap();
    let machine = FakeMachine::intel_two_socket(dir.path()).unwrap();
    let mut one = PowercapMeter::open(&machine.sysfs(), &["package-0".into()]).unwrap();
    c.bench_function("powercap/fake-tmpfs/1-domain", |b| {
        b.iter(|| black_box(one.read().unwrap()))
    });
    let mut all = PowercapMeter::open(&machine.sysfs(), &[]).unwrap();
    c.bench_function("powercap/fake-tmpfs/4-domains", |b| {
        b.iter(|| black_box(all.read().unwrap()))
    });

    let mut est = EstimateMeter::new(Watts(10.0)).unwrap();
    c.bench_function("estimate", |b| b.iter(|| black_box(est.read().unwrap())));

    let a = one.read().unwrap();
    let z = one.read().unwrap();
    c.bench_function("powercap/energy_between", |b| {
        b.iter(|| black_box(one.energy_between(&a, &z)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
