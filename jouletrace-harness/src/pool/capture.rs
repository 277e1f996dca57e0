//! Bounded capture of a worker's output stream.
//!
//! Keeps the first `limit / 2` bytes and the last `limit / 2` bytes (the start of a flood says
//! what it is, the end says how it ended); everything between is counted and dropped.

use std::collections::VecDeque;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::results::Captured;

#[derive(Debug)]
pub struct Capture {
    limit: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    total: u64,
}

impl Capture {
    pub fn new(limit: usize) -> Self {
        Capture {
            limit,
            head: Vec::new(),
            tail: VecDeque::new(),
            total: 0,
        }
    }

    pub fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let head_cap = self.limit / 2;
        if self.head.len() < head_cap {
            let n = (head_cap - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
        }
        let tail_cap = self.limit - head_cap;
        if bytes.len() >= tail_cap {
            self.tail.clear();
            self.tail.extend(&bytes[bytes.len() - tail_cap..]);
        } else {
            let overflow = (self.tail.len() + bytes.len()).saturating_sub(tail_cap);
            self.tail.drain(..overflow);
            self.tail.extend(bytes);
        }
    }

    /// Bytes seen so far, kept or not.
    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    pub fn snapshot(&self) -> Captured {
        let kept = self.head.len() + self.tail.len();
        let truncated = (kept as u64) < self.total;
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if truncated {
            text.push_str(&format!(
                "\n[… jouletrace: {} bytes of output not kept …]\n",
                self.total - kept as u64
            ));
        }
        let tail: Vec<u8> = self.tail.iter().copied().collect();
        text.push_str(&String::from_utf8_lossy(&tail));
        Captured {
            text,
            truncated,
            total_bytes: self.total,
        }
    }
}

/// Drains `reader` into a shared capture on a background thread until end of file.
pub fn drain(
    mut reader: impl Read + Send + 'static,
    limit: usize,
) -> (Arc<Mutex<Capture>>, JoinHandle<()>) {
    let cap = Arc::new(Mutex::new(Capture::new(limit)));
    let sink = cap.clone();
    let handle = std::thread::Builder::new()
        .name("jouletrace-capture".into())
        .spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => sink.lock().expect("capture lock").push(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
        })
        .expect("spawn capture thread");
    (cap, handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_output_is_kept_whole() {
        let mut c = Capture::new(16);
        c.push(b"hello");
        let s = c.snapshot();
        assert_eq!(s.text, "hello");
        assert!(!s.truncated);
        assert_eq!(s.total_bytes, 5);
    }

    #[test]
    fn a_flood_keeps_head_and_tail_with_a_marker() {
        let mut c = Capture::new(8);
        c.push(b"abcd");
        for _ in 0..1000 {
            c.push(b"xxxxxxxxxx");
        }
        c.push(b"wxyz");
        let s = c.snapshot();
        assert!(s.truncated);
        assert_eq!(s.total_bytes, 10_008);
        assert!(s.text.starts_with("abcd\n[… jouletrace: 10000 bytes"));
        assert!(s.text.ends_with("wxyz"));
    }
}
