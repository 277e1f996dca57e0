//! The build cache: compiled candidates and linked glue binaries by content hash, bounded in
//! bytes with least-recently-used eviction, shared by every process that uses the directory.
//!
//! ```text
//! <cache>/entries/<key>/      one build: its artifact, `entry.json`, `pin.lock`, `last-used`
//! <cache>/locks/<key>.lock    held while <key> is being built (a second builder waits, then hits)
//! <cache>/entries/.lock       held while an entry is added or entries are evicted
//! <cache>/toolchain/, support/  the toolchain farm and the support library (not evicted)
//! ```
//!
//! Concurrency is by `flock`-style file locks (`File::lock`), so several test binaries or
//! server processes share one cache safely. A handle to an entry ([`Entry`]) holds a *shared*
//! lock on its `pin.lock` for as long as it lives; eviction takes the *exclusive* lock without
//! waiting and skips entries someone holds, so an rlib about to be linked or a binary about to
//! run is never deleted under its user. Recency is the mtime of `last-used` (touched on every
//! hit; atime is unreliable under `relatime`/`noatime`).

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// The cache's counters: of one process since it opened the cache ([`Cache::stats`]), or of
/// every process that used the directory ([`shared_stats`], what the service's metrics show).
/// `bytes` and `entries` are the directory's either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheStats {
    /// Lookups answered from the cache (candidates and links).
    pub hits: u64,
    /// Lookups that had to build.
    pub misses: u64,
    /// Entries removed to stay within the bound.
    pub evictions: u64,
    /// Bytes the entries take now (toolchain farm and support library excluded).
    pub bytes: u64,
    pub entries: u64,
    /// Builds run (misses that compiled) and their wall time, in seconds.
    pub compiles: u64,
    pub compile_seconds: f64,
    /// Builds that ended in a compile failure (compile_error, timeout, memory, output).
    pub compile_failures: u64,
    /// The support library's build, when this process built it (0 when reused).
    pub support_build_seconds: f64,
}

impl CacheStats {
    /// Hits / (hits + misses); `None` before the first lookup.
    pub fn hit_rate(&self) -> Option<f64> {
        let n = self.hits + self.misses;
        (n > 0).then(|| self.hits as f64 / n as f64)
    }
}

/// What an entry records besides its files.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct EntryMeta {
    /// `candidate` or `link`.
    pub kind: String,
    /// The artifact's file name in the entry (`None` for a cached compile error).
    pub artifact: Option<String>,
    /// A deterministic compile error, cached like an artifact (timeouts and memory failures
    /// are not: they depend on the machine's load).
    pub compile_error: Option<String>,
    pub bytes: u64,
    pub compile_seconds: f64,
}

/// A cache entry in use: pinned against eviction until dropped.
#[derive(Debug)]
pub struct Entry {
    pub(super) dir: PathBuf,
    pub(super) meta: EntryMeta,
    _pin: File,
}

impl Entry {
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// A key being built: holds its build lock, and a private directory the build writes into.
pub(super) struct Slot {
    pub key: String,
    pub tmp: PathBuf,
    _lock: File,
}

pub(super) enum Lookup {
    Hit(Entry),
    Miss(Slot),
}

/// What `<cache>/stats.json` holds: every process's counts, added under `stats.lock`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Totals {
    hits: u64,
    misses: u64,
    evictions: u64,
    bytes: u64,
    entries: u64,
    compiles: u64,
    compile_seconds: f64,
    compile_failures: u64,
    support_build_seconds: f64,
}

/// Adds to the directory's totals (best effort: a cache that cannot record a statistic still
/// builds).
fn add_totals(root: &Path, change: impl FnOnce(&mut Totals)) {
    let Ok(_lock) = lock_exclusive(&root.join("stats.lock")) else {
        return;
    };
    let path = root.join("stats.json");
    let mut totals: Totals = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    change(&mut totals);
    let tmp = root.join(format!(".stats-{}.json", std::process::id()));
    if let Ok(bytes) = serde_json::to_vec(&totals)
        && std::fs::write(&tmp, bytes).is_ok()
    {
        let _ = std::fs::rename(&tmp, &path);
    }
}

/// The totals of every process that used the cache at `root` (zeros for a cache never used).
pub fn shared_stats(root: &Path) -> CacheStats {
    let t: Totals = std::fs::read(root.join("stats.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    CacheStats {
        hits: t.hits,
        misses: t.misses,
        evictions: t.evictions,
        bytes: t.bytes,
        entries: t.entries,
        compiles: t.compiles,
        compile_seconds: t.compile_seconds,
        compile_failures: t.compile_failures,
        support_build_seconds: t.support_build_seconds,
    }
}

#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
    bytes: AtomicU64,
    entries: AtomicU64,
    compiles: AtomicU64,
    compile_nanos: AtomicU64,
    compile_failures: AtomicU64,
    support_nanos: AtomicU64,
}

/// The bounded, shared build cache.
#[derive(Debug)]
pub struct Cache {
    root: PathBuf,
    limit_bytes: u64,
    counters: Counters,
}

/// Creates `dir` (and its parents) readable and enterable by every user: the sandbox user
/// reads the toolchain, the support library and cached rlibs through it.
pub(crate) fn create_public_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
}

fn open_lock(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .read(true)
        .open(path)
}

/// `flock(2)` on `file` (`File::lock` is newer than our MSRV). flock locks belong to the open
/// file description, so two handles in one process exclude each other like two processes.
fn flock(file: &File, op: libc::c_int) -> std::io::Result<()> {
    loop {
        // SAFETY: flock on a valid, open fd.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// An exclusive lock on `path` (created if needed), held until the file is dropped.
pub(crate) fn lock_exclusive(path: &Path) -> std::io::Result<File> {
    let file = open_lock(path)?;
    flock(&file, libc::LOCK_EX)?;
    Ok(file)
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

impl Cache {
    /// Opens (creating) the cache at `root`, bounded to `limit_bytes` of entries.
    pub fn open(root: &Path, limit_bytes: u64) -> std::io::Result<Cache> {
        create_public_dir(root)?;
        create_public_dir(&root.join("entries"))?;
        create_public_dir(&root.join("locks"))?;
        let cache = Cache {
            root: root.to_owned(),
            limit_bytes,
            counters: Counters::default(),
        };
        cache.sweep();
        let (bytes, entries) = cache
            .scan()
            .iter()
            .fold((0, 0), |(b, n), e| (b + e.1, n + 1));
        cache.counters.bytes.store(bytes, Ordering::Relaxed);
        cache.counters.entries.store(entries, Ordering::Relaxed);
        Ok(cache)
    }

    /// Removes what crashed processes left: entries renamed for eviction but not deleted, and
    /// build directories older than an hour (no build takes that long: `build_timeout`).
    fn sweep(&self) {
        let Ok(dirs) = std::fs::read_dir(self.root.join("entries")) else {
            return;
        };
        let hour_ago = SystemTime::now() - Duration::from_secs(3600);
        for d in dirs.flatten() {
            let name = d.file_name().to_string_lossy().into_owned();
            let stale = name.starts_with(".evicted-")
                || (name.starts_with(".tmp-")
                    && d.metadata()
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| t < hour_ago));
            if stale {
                let _ = std::fs::remove_dir_all(d.path());
            }
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn limit_bytes(&self) -> u64 {
        self.limit_bytes
    }

    fn entry_dir(&self, key: &str) -> PathBuf {
        self.root.join("entries").join(key)
    }

    /// The entry of `key` if it is there (pinned and marked used), without counting.
    fn try_hit(&self, key: &str) -> Option<Entry> {
        let dir = self.entry_dir(key);
        let pin = File::open(dir.join("pin.lock")).ok()?;
        flock(&pin, libc::LOCK_SH).ok()?;
        // Evicted between the open and the lock: the directory is gone.
        let meta: EntryMeta =
            serde_json::from_slice(&std::fs::read(dir.join("entry.json")).ok()?).ok()?;
        if let Ok(f) = File::options().write(true).open(dir.join("last-used")) {
            let _ = f.set_modified(SystemTime::now());
        }
        Some(Entry {
            dir,
            meta,
            _pin: pin,
        })
    }

    /// A hit, or the right to build `key` (waiting while another process builds it, then
    /// answering with its result).
    pub(super) fn lookup(&self, key: &str) -> std::io::Result<Lookup> {
        if let Some(e) = self.try_hit(key) {
            self.hit();
            return Ok(Lookup::Hit(e));
        }
        let lock = lock_exclusive(&self.root.join("locks").join(format!("{key}.lock")))?;
        if let Some(e) = self.try_hit(key) {
            self.hit();
            return Ok(Lookup::Hit(e));
        }
        self.counters.misses.fetch_add(1, Ordering::Relaxed);
        add_totals(&self.root, |t| t.misses += 1);
        let tmp = self
            .root
            .join("entries")
            .join(format!(".tmp-{key}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        create_public_dir(&tmp)?;
        Ok(Lookup::Miss(Slot {
            key: key.to_owned(),
            tmp,
            _lock: lock,
        }))
    }

    fn hit(&self) {
        self.counters.hits.fetch_add(1, Ordering::Relaxed);
        add_totals(&self.root, |t| t.hits += 1);
    }

    /// Records a build's wall time (whether it produced an entry or a failure).
    pub(super) fn record_compile(&self, took: Duration, failed: bool) {
        self.counters.compiles.fetch_add(1, Ordering::Relaxed);
        self.counters
            .compile_nanos
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        if failed {
            self.counters
                .compile_failures
                .fetch_add(1, Ordering::Relaxed);
        }
        add_totals(&self.root, |t| {
            t.compiles += 1;
            t.compile_seconds += took.as_secs_f64();
            t.compile_failures += u64::from(failed);
        });
    }

    pub(super) fn record_support_build(&self, took: Duration) {
        self.counters
            .support_nanos
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        add_totals(&self.root, |t| {
            t.support_build_seconds += took.as_secs_f64()
        });
    }

    /// Stores the slot's directory as the entry of its key, then evicts down to the bound.
    pub(super) fn commit(&self, slot: Slot, mut meta: EntryMeta) -> std::io::Result<Entry> {
        std::fs::write(slot.tmp.join("pin.lock"), b"")?;
        std::fs::write(slot.tmp.join("last-used"), b"")?;
        meta.bytes = dir_bytes(&slot.tmp) + 1024;
        std::fs::write(
            slot.tmp.join("entry.json"),
            serde_json::to_vec(&meta).map_err(std::io::Error::other)?,
        )?;
        let dir = self.entry_dir(&slot.key);
        {
            let _index = lock_exclusive(&self.root.join("entries").join(".lock"))?;
            // A stale entry someone could not read (a crash mid-write before) is replaced.
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::rename(&slot.tmp, &dir)?;
        }
        let entry = self.try_hit(&slot.key).ok_or_else(|| {
            std::io::Error::other(format!("cache entry {} vanished", dir.display()))
        })?;
        self.evict()?;
        Ok(entry)
    }

    /// Every entry: (directory, bytes, last used).
    fn scan(&self) -> Vec<(PathBuf, u64, SystemTime)> {
        let Ok(dirs) = std::fs::read_dir(self.root.join("entries")) else {
            return Vec::new();
        };
        dirs.flatten()
            .filter(|d| !d.file_name().to_string_lossy().starts_with('.'))
            .filter_map(|d| {
                let dir = d.path();
                let meta: EntryMeta =
                    serde_json::from_slice(&std::fs::read(dir.join("entry.json")).ok()?).ok()?;
                let used = std::fs::metadata(dir.join("last-used"))
                    .and_then(|m| m.modified())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                Some((dir, meta.bytes, used))
            })
            .collect()
    }

    /// Removes least-recently-used entries nobody holds until the total is within the bound.
    pub fn evict(&self) -> std::io::Result<()> {
        let _index = lock_exclusive(&self.root.join("entries").join(".lock"))?;
        let mut entries = self.scan();
        let mut total: u64 = entries.iter().map(|e| e.1).sum();
        entries.sort_by_key(|e| e.2);
        let mut left = entries.len() as u64;
        let mut evicted = 0;
        for (dir, bytes, _) in entries {
            if total <= self.limit_bytes {
                break;
            }
            let Ok(pin) = File::open(dir.join("pin.lock")) else {
                continue;
            };
            match flock(&pin, libc::LOCK_EX | libc::LOCK_NB) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
            // Renamed first so that no reader finds a half-deleted entry.
            let doomed = dir.with_file_name(format!(
                ".evicted-{}",
                dir.file_name().unwrap_or_default().to_string_lossy()
            ));
            std::fs::rename(&dir, &doomed)?;
            let _ = std::fs::remove_dir_all(&doomed);
            if let Some(key) = dir.file_name() {
                let _ = std::fs::remove_file(
                    self.root
                        .join("locks")
                        .join(format!("{}.lock", key.to_string_lossy())),
                );
            }
            total -= bytes;
            left -= 1;
            evicted += 1;
            self.counters.evictions.fetch_add(1, Ordering::Relaxed);
        }
        self.counters.bytes.store(total, Ordering::Relaxed);
        self.counters.entries.store(left, Ordering::Relaxed);
        add_totals(&self.root, |t| {
            t.bytes = total;
            t.entries = left;
            t.evictions += evicted;
        });
        Ok(())
    }

    pub fn stats(&self) -> CacheStats {
        let c = &self.counters;
        let secs = |n: &AtomicU64| Duration::from_nanos(n.load(Ordering::Relaxed)).as_secs_f64();
        CacheStats {
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            evictions: c.evictions.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            entries: c.entries.load(Ordering::Relaxed),
            compiles: c.compiles.load(Ordering::Relaxed),
            compile_seconds: secs(&c.compile_nanos),
            compile_failures: c.compile_failures.load(Ordering::Relaxed),
            support_build_seconds: secs(&c.support_nanos),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(cache: &Cache, key: &str, bytes: usize) -> Entry {
        let Lookup::Miss(slot) = cache.lookup(key).unwrap() else {
            panic!("{key} should be a miss");
        };
        std::fs::write(slot.tmp.join("a"), vec![0u8; bytes]).unwrap();
        cache
            .commit(
                slot,
                EntryMeta {
                    kind: "candidate".into(),
                    artifact: Some("a".into()),
                    compile_error: None,
                    bytes: 0,
                    compile_seconds: 0.0,
                },
            )
            .unwrap()
    }

    #[test]
    fn a_second_lookup_hits_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path(), 1 << 20).unwrap();
        drop(store(&cache, "k1", 10));
        let Lookup::Hit(e) = cache.lookup("k1").unwrap() else {
            panic!("expected a hit");
        };
        assert_eq!(e.meta.artifact.as_deref(), Some("a"));
        let s = cache.stats();
        assert_eq!((s.hits, s.misses, s.entries), (1, 1, 1));
        assert_eq!(s.hit_rate(), Some(0.5));
    }

    #[test]
    fn the_least_recently_used_unpinned_entry_is_evicted_first() {
        let dir = tempfile::tempdir().unwrap();
        // Room for two entries of ~10 KiB (each counts its files + 1 KiB of bookkeeping).
        let cache = Cache::open(dir.path(), 25_000).unwrap();
        drop(store(&cache, "old", 10_000));
        std::thread::sleep(Duration::from_millis(20));
        let pinned = store(&cache, "pinned", 10_000);
        std::thread::sleep(Duration::from_millis(20));
        // Touch "old" so it is more recent than "pinned"… but "pinned" is held.
        drop(cache.lookup("old").unwrap());
        std::thread::sleep(Duration::from_millis(20));
        drop(store(&cache, "new", 10_000));
        // Over the bound: "pinned" is the oldest but in use, so "old" goes.
        let s = cache.stats();
        assert_eq!(s.evictions, 1);
        assert!(!dir.path().join("entries/old").exists());
        assert!(pinned.dir().join("a").exists());
        assert!(dir.path().join("entries/new").exists());
        assert!(s.bytes <= 25_000, "{s:?}");
        drop(pinned);
        // Released, it can go now.
        drop(store(&cache, "newer", 10_000));
        assert!(!dir.path().join("entries/pinned").exists());
        assert_eq!(cache.stats().evictions, 2);
    }

    #[test]
    fn shared_stats_add_up_every_handle() {
        let dir = tempfile::tempdir().unwrap();
        let one = Cache::open(dir.path(), 1 << 20).unwrap();
        let two = Cache::open(dir.path(), 1 << 20).unwrap();
        drop(store(&one, "k", 10));
        drop(two.lookup("k").unwrap());
        one.record_compile(Duration::from_millis(250), true);
        let s = shared_stats(dir.path());
        assert_eq!((s.hits, s.misses, s.entries, s.compiles), (1, 1, 1, 1));
        assert_eq!(s.compile_failures, 1);
        assert!((s.compile_seconds - 0.25).abs() < 1e-9);
        assert!(s.bytes > 10);
        assert_eq!(two.stats().hits, 1);
        assert_eq!(one.stats().hits, 0);
    }

    #[test]
    fn concurrent_builders_of_one_key_build_it_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        let built = std::sync::Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (root, built) = (root.clone(), built.clone());
                std::thread::spawn(move || {
                    // One Cache per thread: separate handles, like separate processes.
                    let cache = Cache::open(&root, 1 << 20).unwrap();
                    match cache.lookup("same").unwrap() {
                        Lookup::Hit(_) => {}
                        Lookup::Miss(slot) => {
                            built.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(50));
                            std::fs::write(slot.tmp.join("a"), b"x").unwrap();
                            let meta = EntryMeta {
                                kind: "candidate".into(),
                                artifact: Some("a".into()),
                                compile_error: None,
                                bytes: 0,
                                compile_seconds: 0.0,
                            };
                            cache.commit(slot, meta).unwrap();
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(built.load(Ordering::SeqCst), 1);
    }
}
