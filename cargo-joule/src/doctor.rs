//! `cargo joule doctor`: the CLI's only call into `jouletrace::platform`.
//!
//! The diagnosis (meters and why each is or is not usable, CPU, isolation, governor, VM,
//! permissions) is built by the library; this file prints it, as text or as JSON, and turns
//! "can a measured meter be used here" into the exit status (0 yes, 1 only the estimate).
//!
//! `jouletrace::platform` is still being written: until it lands the subcommand says so and exits
//! with status 2. The intended body, once it exists:
//!
//! ```ignore
//! let diagnosis = jouletrace::platform::diagnose(&RunConfig::default().sysfs_root);
//! if json { println!("{}", serde_json::to_string_pretty(&diagnosis)?) } else { print!("{diagnosis}") }
//! Ok(if diagnosis.measured_meter_usable() { Status::Ok } else { Status::CandidateFailed })
//! ```

use anyhow::anyhow;

use crate::exit::{CliResult, Failure};

pub fn doctor(_json: bool) -> CliResult {
    Err(Failure::usage(anyhow!(
        "`cargo joule doctor` is not available in this build: the platform diagnosis \
         (jouletrace::platform) has not landed yet"
    )))
}
