//! `cargo joule doctor`: the CLI's only call into `jouletrace::platform`.
//!
//! The diagnosis (meters and why each is or is not usable, CPU, isolation, governor, VM,
//! permissions) is built by the library; this file prints it, as text or as JSON, and turns
//! "can a measured meter be used here" into the exit status (0 yes, 1 only the estimate).

use jouletrace::config::RunConfig;
use jouletrace::platform::DoctorReport;
use jouletrace::sysfs::Sysfs;

use crate::exit::{CliResult, Status};

pub fn doctor(json: bool) -> CliResult {
    let config = RunConfig::default();
    let report = DoctorReport::probe(&Sysfs::from_env(), config.estimate_watts_per_core);
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.render_human());
    }
    Ok(if report.measured_meter_usable() {
        Status::Ok
    } else {
        Status::CandidateFailed
    })
}
