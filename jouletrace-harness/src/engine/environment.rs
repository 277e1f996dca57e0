//! The environment a run records: machine facts, plus what the caller's [`RunContext`] says
//! about the code under test and the host.

use super::RunContext;
use crate::results::Environment;
use crate::sysfs::Sysfs;

/// The machine (from sysfs and procfs), plus the context's commit, compiler and host name.
pub fn probe(context: &RunContext) -> Environment {
    let mut env = crate::platform::probe_environment(&Sysfs::new(&context.sysfs_root));
    env.commit = context.commit.clone();
    env.rustc = context.rustc.clone();
    if let Some(host) = &context.host {
        env.hostname = Some(host.clone());
    }
    env
}
