//! The machine-wide measurement lock: two runs measuring at once would pollute each other's
//! package-wide readings, exactly the flaw of our predecessor's concurrent workers.

use std::fs::{File, OpenOptions};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use super::{EngineError, Observer};

/// Held for as long as the run measures; released on drop (and by the kernel if we die).
pub struct MeasureLock {
    _lock: Flock<File>,
}

pub fn acquire(
    path: &Path,
    wait: bool,
    observer: &mut dyn Observer,
) -> Result<MeasureLock, EngineError> {
    let open = || {
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| {
                EngineError::Other(format!("cannot open the lock file {}: {e}", path.display()))
            })
    };
    match Flock::lock(open()?, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(MeasureLock { _lock: lock }),
        Err((_, Errno::EWOULDBLOCK)) if wait => {
            observer.note(&format!(
                "another JouleTrace run is measuring on this machine; waiting for it to finish (lock {})",
                path.display()
            ));
            Flock::lock(open()?, FlockArg::LockExclusive)
                .map(|lock| MeasureLock { _lock: lock })
                .map_err(|(_, e)| EngineError::Other(format!("lock {}: {e}", path.display())))
        }
        Err((_, Errno::EWOULDBLOCK)) => Err(EngineError::Locked {
            path: path.display().to_string(),
            hint: "it was asked not to wait (--no-wait); try again when it is done".into(),
        }),
        Err((_, e)) => Err(EngineError::Other(format!("lock {}: {e}", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::NullObserver;

    #[test]
    fn a_second_run_fails_at_once_without_wait() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let _first = acquire(&path, false, &mut NullObserver).unwrap();
        let second = acquire(&path, false, &mut NullObserver);
        assert!(matches!(second, Err(EngineError::Locked { .. })));
    }
}
