//! What the machine is, and whether energy can be measured on it.
//!
//! [`probe_environment`] fills the `environment` section of a results file; [`DoctorReport`]
//! is everything `cargo joule doctor` prints: each meter backend with its reason and remedy,
//! the CPU and its topology, isolated CPUs, governor and turbo, temperature sensors,
//! virtualisation, `perf_event_paranoid` and capabilities, and a verdict.
//!
//! ```no_run
//! use jouletrace::{platform::DoctorReport, sysfs::Sysfs};
//! let report = DoctorReport::probe(&Sysfs::from_env(), 10.0);
//! print!("{}", report.render_human());
//! std::process::exit(if report.measured_meter_usable() { 0 } else { 1 });
//! ```

mod doctor;
mod environment;
pub mod load;

pub use doctor::{
    BackendStatus, Capabilities, DoctorReport, TemperatureSensor, TopologySummary,
    temperature_sensors,
};
pub use environment::{probe_environment, probe_environment_with};
