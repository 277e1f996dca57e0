//! The one place where kernel pseudo-files (`/sys`, `/proc`) are located and parsed.
//!
//! Every sysfs path JouleTrace reads hangs off a [`Sysfs`] root, `/sys` unless the environment
//! variable [`SYSFS_ROOT_ENV`] says otherwise: containers that mount the host's `/sys` elsewhere
//! need that, and tests point it at fake trees. `/proc` gets the same treatment through
//! [`Procfs`] and [`PROC_ROOT_ENV`], so the environment probe can be tested on a fake
//! `/proc/cpuinfo`.
//!
//! ```no_run
//! use jouletrace::sysfs::Sysfs;
//! let sys = Sysfs::from_env();
//! let online = sys.read_cpu_list("devices/system/cpu/online")?;
//! # Ok::<(), jouletrace::sysfs::SysfsError>(())
//! ```
//!
//! Errors carry the full path that failed and, for permission problems, the hint that decides
//! what the user should do next.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Overrides the sysfs root (default `/sys`).
pub const SYSFS_ROOT_ENV: &str = "JOULETRACE_SYSFS_ROOT";
/// Overrides the procfs root (default `/proc`).
pub const PROC_ROOT_ENV: &str = "JOULETRACE_PROC_ROOT";

/// A sysfs tree, real or fake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sysfs {
    root: PathBuf,
}

/// A procfs tree, real or fake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Procfs {
    root: PathBuf,
}

/// Why a pseudo-file could not be read or understood.
#[derive(Debug, thiserror::Error)]
pub enum SysfsError {
    #[error("{path} does not exist")]
    NotFound { path: PathBuf },
    #[error("{path}: permission denied")]
    PermissionDenied { path: PathBuf },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: cannot parse {content:?} as {expected}")]
    Parse {
        path: PathBuf,
        content: String,
        expected: &'static str,
    },
}

impl SysfsError {
    pub fn path(&self) -> &Path {
        match self {
            SysfsError::NotFound { path }
            | SysfsError::PermissionDenied { path }
            | SysfsError::Io { path, .. }
            | SysfsError::Parse { path, .. } => path,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, SysfsError::NotFound { .. })
    }

    pub fn is_permission_denied(&self) -> bool {
        matches!(self, SysfsError::PermissionDenied { .. })
    }

    /// Classifies an I/O error on `path`.
    pub fn from_io(path: PathBuf, source: io::Error) -> SysfsError {
        match source.kind() {
            io::ErrorKind::NotFound => SysfsError::NotFound { path },
            io::ErrorKind::PermissionDenied => SysfsError::PermissionDenied { path },
            _ => SysfsError::Io { path, source },
        }
    }
}

fn read_trimmed(path: PathBuf) -> Result<String, SysfsError> {
    match std::fs::read_to_string(&path) {
        Ok(s) => Ok(s.trim_end_matches(['\n', '\r', ' ', '\0']).to_owned()),
        Err(e) => Err(SysfsError::from_io(path, e)),
    }
}

fn parse_u64(path: PathBuf, text: String) -> Result<u64, SysfsError> {
    let t = text.trim();
    let parsed = match t.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => t.parse().ok(),
    };
    parsed.ok_or(SysfsError::Parse {
        path,
        content: text,
        expected: "an unsigned integer",
    })
}

impl Default for Sysfs {
    fn default() -> Self {
        Sysfs::new("/sys")
    }
}

impl Sysfs {
    pub fn new(root: impl Into<PathBuf>) -> Sysfs {
        Sysfs { root: root.into() }
    }

    /// `$JOULETRACE_SYSFS_ROOT`, or `/sys`.
    pub fn from_env() -> Sysfs {
        match std::env::var_os(SYSFS_ROOT_ENV) {
            Some(root) if !root.is_empty() => Sysfs::new(root),
            _ => Sysfs::default(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether this is the machine's own `/sys` (and so describes the CPUs we run on).
    pub fn is_real(&self) -> bool {
        self.root == Path::new("/sys")
    }

    /// The absolute path of `rel` (a path relative to the root, such as
    /// `class/powercap/intel-rapl:0/energy_uj`).
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.root.join(rel)
    }

    pub fn exists(&self, rel: impl AsRef<Path>) -> bool {
        self.path(rel).exists()
    }

    /// Contents with trailing newlines removed.
    pub fn read_string(&self, rel: impl AsRef<Path>) -> Result<String, SysfsError> {
        read_trimmed(self.path(rel))
    }

    /// A decimal (or `0x`-prefixed hexadecimal) unsigned integer.
    pub fn read_u64(&self, rel: impl AsRef<Path>) -> Result<u64, SysfsError> {
        let path = self.path(rel);
        let text = read_trimmed(path.clone())?;
        parse_u64(path, text)
    }

    /// A CPU list such as `0-3,8,10-11`.
    pub fn read_cpu_list(&self, rel: impl AsRef<Path>) -> Result<Vec<u32>, SysfsError> {
        let path = self.path(rel);
        let text = read_trimmed(path.clone())?;
        parse_cpu_list(&text).ok_or(SysfsError::Parse {
            path,
            content: text,
            expected: "a CPU list (`0-3,8`)",
        })
    }

    /// Names of a directory's entries, sorted; empty when the directory does not exist.
    pub fn list_dir(&self, rel: impl AsRef<Path>) -> Result<Vec<String>, SysfsError> {
        let path = self.path(rel);
        let entries = match std::fs::read_dir(&path) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(SysfsError::from_io(path, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| SysfsError::from_io(path.clone(), e))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }
}

impl Default for Procfs {
    fn default() -> Self {
        Procfs::new("/proc")
    }
}

impl Procfs {
    pub fn new(root: impl Into<PathBuf>) -> Procfs {
        Procfs { root: root.into() }
    }

    /// `$JOULETRACE_PROC_ROOT`, or `/proc`.
    pub fn from_env() -> Procfs {
        match std::env::var_os(PROC_ROOT_ENV) {
            Some(root) if !root.is_empty() => Procfs::new(root),
            _ => Procfs::default(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.root.join(rel)
    }

    pub fn read_string(&self, rel: impl AsRef<Path>) -> Result<String, SysfsError> {
        read_trimmed(self.path(rel))
    }

    pub fn read_u64(&self, rel: impl AsRef<Path>) -> Result<u64, SysfsError> {
        let path = self.path(rel);
        let text = read_trimmed(path.clone())?;
        parse_u64(path, text)
    }

    /// `/proc/sys/kernel/perf_event_paranoid` (it can be negative).
    pub fn perf_event_paranoid(&self) -> Result<i32, SysfsError> {
        let path = self.path("sys/kernel/perf_event_paranoid");
        let text = read_trimmed(path.clone())?;
        text.trim().parse().map_err(|_| SysfsError::Parse {
            path,
            content: text,
            expected: "an integer",
        })
    }

    /// `/proc/cpuinfo`, split into per-processor blocks of `key: value` pairs.
    pub fn cpuinfo(&self) -> Result<Vec<Vec<(String, String)>>, SysfsError> {
        let text = self.read_string("cpuinfo")?;
        Ok(parse_cpuinfo(&text))
    }
}

/// Parses a kernel CPU list (`0-3,8,10-11`; an empty string is an empty list). Sorted, deduplicated.
pub fn parse_cpu_list(text: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in text
        .trim()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        match part.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi): (u32, u32) = (lo.trim().parse().ok()?, hi.trim().parse().ok()?);
                if hi < lo || hi - lo > 1 << 16 {
                    return None;
                }
                cpus.extend(lo..=hi);
            }
            None => cpus.push(part.parse().ok()?),
        }
    }
    cpus.sort_unstable();
    cpus.dedup();
    Some(cpus)
}

/// CPUs as sorted runs of consecutive numbers: `[0, 1, 2, 3, 8]` → `[(0, 3), (8, 8)]`.
pub fn cpu_runs(cpus: &[u32]) -> Vec<(u32, u32)> {
    let mut sorted = cpus.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for cpu in sorted {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == cpu => *end = cpu,
            _ => runs.push((cpu, cpu)),
        }
    }
    runs
}

/// Formats CPUs as a kernel CPU list (`0-3,8`).
pub fn format_cpu_list(cpus: &[u32]) -> String {
    cpu_runs(cpus)
        .into_iter()
        .map(|(start, end)| {
            if start == end {
                start.to_string()
            } else {
                format!("{start}-{end}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Splits `/proc/cpuinfo` into blocks separated by blank lines.
pub fn parse_cpuinfo(text: &str) -> Vec<Vec<(String, String)>> {
    let mut blocks = Vec::new();
    let mut block = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !block.is_empty() {
                blocks.push(std::mem::take(&mut block));
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            block.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    if !block.is_empty() {
        blocks.push(block);
    }
    blocks
}

/// The CPU vendor as the kernel's `modalias` encodes it (`ven0000` Intel, `ven0002` AMD).
///
/// Read from sysfs rather than `/proc/cpuinfo` so that a fake sysfs tree alone describes a
/// machine to the meters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuId {
    pub vendor: CpuVendor,
    pub family: u32,
    pub model: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuVendor {
    Intel,
    Amd,
    Hygon,
    Other(u32),
}

impl fmt::Display for CpuVendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CpuVendor::Intel => f.write_str("Intel"),
            CpuVendor::Amd => f.write_str("AMD"),
            CpuVendor::Hygon => f.write_str("Hygon"),
            CpuVendor::Other(n) => write!(f, "vendor {n}"),
        }
    }
}

impl CpuVendor {
    /// AMD and Hygon share the AMD RAPL interface.
    pub fn is_amd_like(self) -> bool {
        matches!(self, CpuVendor::Amd | CpuVendor::Hygon)
    }
}

impl Sysfs {
    /// Vendor, family and model from `devices/system/cpu/modalias`
    /// (`cpu:type:x86,ven0002fam0019mod0001:feature:…`).
    pub fn cpu_id(&self) -> Result<CpuId, SysfsError> {
        let path = self.path("devices/system/cpu/modalias");
        let text = read_trimmed(path.clone())?;
        parse_modalias(&text).ok_or(SysfsError::Parse {
            path,
            content: text,
            expected: "an x86 CPU modalias (`cpu:type:x86,venVVVVfamFFFFmodMMMM:…`)",
        })
    }
}

fn parse_modalias(text: &str) -> Option<CpuId> {
    let ids = text.split(',').nth(1)?.split(':').next()?;
    let hex = |tag: &str| -> Option<u32> {
        let start = ids.find(tag)? + tag.len();
        u32::from_str_radix(ids.get(start..start + 4)?, 16).ok()
    };
    let vendor = match hex("ven")? {
        0 => CpuVendor::Intel,
        2 => CpuVendor::Amd,
        9 => CpuVendor::Hygon,
        n => CpuVendor::Other(n),
    };
    Some(CpuId {
        vendor,
        family: hex("fam")?,
        model: hex("mod")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse_and_format() {
        assert_eq!(
            parse_cpu_list("0-3,8,10-11\n"),
            Some(vec![0, 1, 2, 3, 8, 10, 11])
        );
        assert_eq!(parse_cpu_list(""), Some(vec![]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("a"), None);
        assert_eq!(format_cpu_list(&[0, 1, 2, 3, 8, 10, 11]), "0-3,8,10-11");
        assert_eq!(format_cpu_list(&[]), "");
    }

    #[test]
    fn modalias_gives_vendor_family_model() {
        let id = parse_modalias("cpu:type:x86,ven0002fam0019mod0001:feature:,0000,0001").unwrap();
        assert_eq!(
            id,
            CpuId {
                vendor: CpuVendor::Amd,
                family: 0x19,
                model: 1
            }
        );
        let id = parse_modalias("cpu:type:x86,ven0000fam0006mod0055:feature:,0000").unwrap();
        assert_eq!((id.vendor, id.model), (CpuVendor::Intel, 0x55));
        assert_eq!(parse_modalias("garbage"), None);
    }

    #[test]
    fn errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let sys = Sysfs::new(dir.path());
        let err = sys.read_u64("nope").unwrap_err();
        assert!(err.is_not_found());
        assert!(err.to_string().contains("nope"), "{err}");
        std::fs::write(dir.path().join("bad"), "x1\n").unwrap();
        let err = sys.read_u64("bad").unwrap_err();
        assert!(matches!(err, SysfsError::Parse { .. }), "{err}");
        std::fs::write(dir.path().join("good"), "42\n").unwrap();
        assert_eq!(sys.read_u64("good").unwrap(), 42);
    }

    #[test]
    fn this_machine_has_online_cpus() {
        let online = Sysfs::default()
            .read_cpu_list("devices/system/cpu/online")
            .unwrap();
        assert!(!online.is_empty());
    }
}
