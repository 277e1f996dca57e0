//! Registers candidates by hand, the way the macros expand, so the harness and the engine are
//! tested without the proc macros. Used by `tests/harness.rs`.

use jouletrace::__private::{CandidateEntry, CandidateOptions, cmp_eq, typed};
use std::hint::black_box;

use jouletrace::Case;

fn cases() -> Vec<Case<u64, u64>> {
    vec![
        Case::new("two", 2, 4),
        Case::new("seven", 7, 49).size(7),
        Case::new("big", 1000, 1_000_000).size(1000),
    ]
}

fn square(x: u64) -> u64 {
    x * x
}

fn wrong(x: u64) -> u64 {
    x + x
}

fn segfault(x: u64) -> u64 {
    if x == 7 {
        // SAFETY: not safe at all: this candidate exists to crash its worker.
        unsafe { std::ptr::write_volatile(std::ptr::null_mut::<u64>(), x) };
    }
    x * x
}

fn spin(x: u64) -> u64 {
    if x == 1000 {
        loop {
            std::hint::spin_loop();
        }
    }
    x * x
}

fn aborts(x: u64) -> u64 {
    if x == 2 {
        std::process::abort();
    }
    x * x
}

#[expect(
    unconditional_recursion,
    reason = "this candidate exists to overflow its stack"
)]
fn recurse(x: u64) -> u64 {
    let deeper = [x; 64];
    black_box(&deeper);
    recurse(x + 1) + deeper[0]
}

fn stack_overflow(x: u64) -> u64 {
    if x == 7 { recurse(x) } else { x * x }
}

fn huge_alloc(x: u64) -> u64 {
    let v = vec![1u8; 64 << 30];
    x * x + u64::from(v[v.len() / 2]) - 1
}

fn panics_once(x: u64) -> u64 {
    assert!(x != 1000, "no thousands today");
    x * x
}

fn floods(x: u64) -> u64 {
    use std::io::Write;
    let line = [b'y'; 1 << 20];
    let mut out = std::io::stdout().lock();
    for _ in 0..100 {
        let _ = out.write_all(&line);
    }
    x * x
}

fn stray_thread(x: u64) -> u64 {
    std::thread::spawn(|| {
        loop {
            std::hint::spin_loop();
        }
    });
    x * x
}

const fn opts(timeout_ms: u64) -> CandidateOptions {
    CandidateOptions {
        timeout: Some(std::time::Duration::from_millis(timeout_ms)),
        ..CandidateOptions::DEFAULT
    }
}

macro_rules! register {
    ($name:ident, $options:expr) => {
        jouletrace::__private::inventory::submit! {
            CandidateEntry {
                problem: "square",
                name: stringify!($name),
                module_path: module_path!(),
                file: file!(),
                line: line!(),
                options: $options,
                imp: &typed(cases, $name, cmp_eq, false),
            }
        }
    };
}

register!(square, CandidateOptions::DEFAULT);
register!(wrong, CandidateOptions::DEFAULT);
register!(segfault, CandidateOptions::DEFAULT);
register!(spin, opts(1500));
register!(aborts, CandidateOptions::DEFAULT);
register!(stack_overflow, CandidateOptions::DEFAULT);
register!(
    huge_alloc,
    CandidateOptions {
        memory_limit_mb: Some(512),
        ..CandidateOptions::DEFAULT
    }
);
register!(panics_once, CandidateOptions::DEFAULT);
register!(floods, CandidateOptions::DEFAULT);
register!(stray_thread, CandidateOptions::DEFAULT);

/// Squares only if it can open a TCP socket on loopback: in a worker cut off the network
/// (`isolate_network`), the new namespace's loopback is down and the answer comes out wrong.
fn uses_loopback(x: u64) -> u64 {
    let reachable = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| std::net::TcpStream::connect(l.local_addr()?))
        .is_ok();
    if reachable { x * x } else { 0 }
}

jouletrace::__private::inventory::submit! {
    CandidateEntry {
        problem: "net",
        name: "uses_loopback",
        module_path: module_path!(),
        file: file!(),
        line: line!(),
        options: CandidateOptions::DEFAULT,
        imp: &typed(cases, uses_loopback, cmp_eq, false),
    }
}

jouletrace::main!();
