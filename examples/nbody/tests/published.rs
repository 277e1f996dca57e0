//! Both implementations reproduce the benchmark's published output, printed as it prints it.

use jouletrace_examples_nbody::{PUBLISHED, simple, soa};

#[test]
fn both_print_the_published_energies() {
    for &(steps, before, after) in PUBLISHED {
        let published = format!("{before:.9}\n{after:.9}");
        for (name, run) in [
            ("simple", simple::run as fn(u32) -> (f64, f64)),
            ("soa", soa::run),
        ] {
            let (b, a) = run(steps);
            assert_eq!(
                format!("{b:.9}\n{a:.9}"),
                published,
                "{name}, {steps} steps"
            );
        }
    }
}
