//! GPU energy through NVML's total-energy counter (`nvmlDeviceGetTotalEnergyConsumption`,
//! millijoules since the driver loaded; Volta and later).
//!
//! Behind the `nvml` cargo feature. `libnvidia-ml.so.1` is loaded at run time with `dlopen`, so
//! JouleTrace neither links against nor requires the NVIDIA driver: where it is missing, the
//! backend is simply unavailable. Each GPU is a domain `gpu-N` of scope `Device`.

use crate::energy::{Meter, Unavailable};

/// Opens the NVML meter (all GPUs when `wanted` is empty).
pub fn open(wanted: &[String]) -> Result<Box<dyn Meter>, Unavailable> {
    #[cfg(feature = "nvml")]
    {
        Ok(Box::new(imp::NvmlMeter::open(wanted)?))
    }
    #[cfg(not(feature = "nvml"))]
    {
        let _ = wanted;
        Err(Unavailable::new(
            crate::energy::Backend::Nvml,
            "this JouleTrace was built without the `nvml` feature",
        )
        .with_remedy("enable the `nvml` feature of the `jouletrace` crate"))
    }
}

#[cfg(feature = "nvml")]
mod imp {
    use std::ffi::{CStr, c_char, c_int, c_uint, c_ulonglong, c_void};

    use crate::energy::{
        Backend, Domain, DomainEnergy, DomainKind, Meter, MeterError, MeterInfo, Provenance,
        ReadFailure, Scaling, Scope, Snapshot, Unavailable, Wrap, energies, filter_domains,
        take_snapshot,
    };

    type Device = *mut c_void;
    type InitFn = unsafe extern "C" fn() -> c_int;
    type CountFn = unsafe extern "C" fn(*mut c_uint) -> c_int;
    type HandleFn = unsafe extern "C" fn(c_uint, *mut Device) -> c_int;
    type EnergyFn = unsafe extern "C" fn(Device, *mut c_ulonglong) -> c_int;
    type ErrorStringFn = unsafe extern "C" fn(c_int) -> *const c_char;

    const LIBRARIES: [&CStr; 2] = [c"libnvidia-ml.so.1", c"libnvidia-ml.so"];

    /// The loaded library and the entry points we use.
    struct Nvml {
        handle: *mut c_void,
        shutdown: InitFn,
        energy: EnergyFn,
        error_string: Option<ErrorStringFn>,
    }

    // SAFETY: NVML is thread-safe by its documentation; the pointers are only passed back to it.
    unsafe impl Send for Nvml {}

    impl Drop for Nvml {
        fn drop(&mut self) {
            // SAFETY: initialised in `load`; the handle came from dlopen.
            unsafe {
                (self.shutdown)();
                libc::dlclose(self.handle);
            }
        }
    }

    fn no_driver(detail: String) -> Unavailable {
        Unavailable::new(Backend::Nvml, format!("no NVIDIA driver: {detail}"))
            .with_remedy("install the NVIDIA driver (it provides libnvidia-ml.so.1)")
    }

    unsafe fn symbol<T: Copy>(handle: *mut c_void, name: &CStr) -> Result<T, Unavailable> {
        // SAFETY: `handle` is a live dlopen handle; T is the documented signature of `name`.
        let ptr = unsafe { libc::dlsym(handle, name.as_ptr()) };
        if ptr.is_null() {
            return Err(Unavailable::new(
                Backend::Nvml,
                format!(
                    "libnvidia-ml lacks {} (driver too old for energy counters)",
                    name.to_string_lossy()
                ),
            ));
        }
        // SAFETY: function pointers and data pointers have the same size on Linux.
        Ok(unsafe { std::mem::transmute_copy::<*mut c_void, T>(&ptr) })
    }

    impl Nvml {
        fn describe(&self, code: c_int) -> String {
            match self.error_string {
                // SAFETY: nvmlErrorString returns a static string for any code.
                Some(f) => unsafe { CStr::from_ptr(f(code)) }
                    .to_string_lossy()
                    .into_owned(),
                None => format!("NVML error {code}"),
            }
        }
    }

    fn load() -> Result<(Nvml, Vec<Device>), Unavailable> {
        let mut handle = std::ptr::null_mut();
        for lib in LIBRARIES {
            // SAFETY: a valid C string; RTLD_NOW resolves everything at once.
            handle = unsafe { libc::dlopen(lib.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
            if !handle.is_null() {
                break;
            }
        }
        if handle.is_null() {
            return Err(no_driver("libnvidia-ml.so.1 cannot be loaded".into()));
        }
        // SAFETY: signatures as in nvml.h.
        let (init, shutdown, count, by_index, energy) = unsafe {
            (
                symbol::<InitFn>(handle, c"nvmlInit_v2")?,
                symbol::<InitFn>(handle, c"nvmlShutdown")?,
                symbol::<CountFn>(handle, c"nvmlDeviceGetCount_v2")?,
                symbol::<HandleFn>(handle, c"nvmlDeviceGetHandleByIndex_v2")?,
                symbol::<EnergyFn>(handle, c"nvmlDeviceGetTotalEnergyConsumption")?,
            )
        };
        // SAFETY: as above; optional.
        let error_string = unsafe { symbol::<ErrorStringFn>(handle, c"nvmlErrorString") }.ok();
        // SAFETY: nvmlInit_v2 takes no arguments.
        let rc = unsafe { init() };
        if rc != 0 {
            // SAFETY: the handle is ours.
            unsafe { libc::dlclose(handle) };
            return Err(no_driver(format!("nvmlInit failed with code {rc}")));
        }
        let nvml = Nvml {
            handle,
            shutdown,
            energy,
            error_string,
        };
        let mut n: c_uint = 0;
        // SAFETY: `n` is writable.
        let rc = unsafe { count(&mut n) };
        if rc != 0 {
            return Err(Unavailable::new(
                Backend::Nvml,
                format!("counting GPUs: {}", nvml.describe(rc)),
            ));
        }
        let mut devices = Vec::new();
        for i in 0..n {
            let mut dev: Device = std::ptr::null_mut();
            // SAFETY: `dev` is writable.
            let rc = unsafe { by_index(i, &mut dev) };
            if rc != 0 {
                return Err(Unavailable::new(
                    Backend::Nvml,
                    format!("opening GPU {i}: {}", nvml.describe(rc)),
                ));
            }
            devices.push(dev);
        }
        Ok((nvml, devices))
    }

    pub struct NvmlMeter {
        info: MeterInfo,
        nvml: Nvml,
        devices: Vec<Device>,
        scalings: Vec<Scaling>,
    }

    // SAFETY: device handles are opaque NVML handles, usable from any thread.
    unsafe impl Send for NvmlMeter {}

    impl NvmlMeter {
        pub fn open(wanted: &[String]) -> Result<NvmlMeter, Unavailable> {
            let (nvml, devices) = load()?;
            if devices.is_empty() {
                return Err(Unavailable::new(
                    Backend::Nvml,
                    "the NVIDIA driver sees no GPU",
                ));
            }
            let all: Vec<(Domain, Device)> = devices
                .into_iter()
                .enumerate()
                .map(|(i, dev)| {
                    (
                        Domain {
                            id: format!("gpu-{i}"),
                            kind: DomainKind::Gpu,
                            scope: Scope::Device { index: i as u32 },
                            cpus: Vec::new(),
                        },
                        dev,
                    )
                })
                .collect();
            let chosen = filter_domains(Backend::Nvml, all, wanted)?;
            let mut domains = Vec::new();
            let mut devices = Vec::new();
            for (d, dev) in chosen {
                let mut mj: c_ulonglong = 0;
                // SAFETY: `dev` came from NVML; `mj` is writable.
                let rc = unsafe { (nvml.energy)(dev, &mut mj) };
                if rc != 0 {
                    return Err(Unavailable::new(
                        Backend::Nvml,
                        format!(
                            "{} has no total-energy counter: {} (needs a Volta or newer GPU)",
                            d.id,
                            nvml.describe(rc)
                        ),
                    ));
                }
                domains.push(d);
                devices.push(dev);
            }
            let scalings = vec![
                Scaling {
                    joules_per_unit: 1e-3,
                    wrap: Wrap::Never,
                };
                domains.len()
            ];
            let info = MeterInfo::new(Backend::Nvml, Provenance::Measured, domains, None)
                .ok_or_else(|| Unavailable::new(Backend::Nvml, "no GPU domain"))?;
            Ok(NvmlMeter {
                info,
                nvml,
                devices,
                scalings,
            })
        }
    }

    impl Meter for NvmlMeter {
        fn info(&self) -> &MeterInfo {
            &self.info
        }

        fn read(&mut self) -> Result<Snapshot, MeterError> {
            let (nvml, devices) = (&self.nvml, &self.devices);
            take_snapshot(Backend::Nvml, &self.info.domains, |i| {
                let mut mj: c_ulonglong = 0;
                // SAFETY: as in `open`.
                match unsafe { (nvml.energy)(devices[i], &mut mj) } {
                    0 => Ok(mj),
                    rc => Err((
                        "nvmlDeviceGetTotalEnergyConsumption".into(),
                        ReadFailure::Io(std::io::Error::other(nvml.describe(rc))),
                    )),
                }
            })
        }

        fn energy_between(&self, a: &Snapshot, b: &Snapshot) -> Vec<DomainEnergy> {
            energies(&self.info.domains, &self.scalings, a, b)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::energy::Backend;

    /// No NVIDIA driver on this machine kind: a clean "unavailable", whichever the build.
    #[test]
    fn unavailable_without_driver_or_feature() {
        match open(&[]) {
            Err(u) => {
                assert_eq!(u.backend, Backend::Nvml);
                if cfg!(feature = "nvml") {
                    assert!(u.reason.contains("no NVIDIA driver"), "{}", u.reason);
                } else {
                    assert!(u.reason.contains("without the `nvml` feature"));
                }
            }
            Ok(m) => assert!(!m.info().domains.is_empty()),
        }
    }
}
