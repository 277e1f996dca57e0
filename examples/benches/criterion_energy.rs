// An ordinary criterion bench that reports joules instead of seconds: the sorts of
// `jouletrace_examples::sorting`, measured with `jouletrace::criterion::JouleMeasurement`.
//
// ```sh
// cargo bench -p jouletrace-examples --features criterion --bench criterion_energy
// ```
//
// Unlike the JouleTrace benches beside it, nothing here is checked for correctness, isolated or
// pinned; the measurement says so on stderr when it starts. `cargo test` runs this file once in
// criterion's test mode (`tests/criterion_energy.rs`), which runs each routine once.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use jouletrace::criterion::JouleMeasurement;
use jouletrace_examples::{data, sorting};

/// criterion with joules as its measurement. Short default times keep `cargo bench` of the
/// examples quick; pass `-- --measurement-time 5` for tighter intervals.
fn energy() -> Criterion<JouleMeasurement> {
    let measurement = match JouleMeasurement::new() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    Criterion::default()
        .with_measurement(measurement)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20)
}

fn sorts(c: &mut Criterion<JouleMeasurement>) {
    let mut group = c.benchmark_group("sort");
    for n in [1_000usize, 10_000] {
        let input = data::random_u32s(n, 0x5EED + n as u64);
        // Energy per element: criterion prints e.g. `µJ/elem` instead of `elem/s`.
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("merge_sort", n), &input, |b, input| {
            b.iter_batched_ref(
                || input.clone(),
                |v| sorting::merge_sort(black_box(v)),
                BatchSize::SmallInput,
            )
        });
        group.bench_with_input(
            BenchmarkId::new("std_sort_unstable", n),
            &input,
            |b, input| {
                b.iter_batched_ref(
                    || input.clone(),
                    |v| black_box(v).sort_unstable(),
                    BatchSize::SmallInput,
                )
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = energy();
    targets = sorts
}
criterion_main!(benches);
