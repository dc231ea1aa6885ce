//! The agent as a Windows service (`tailgate --service`, what the MSI registers).
//!
//! The service control manager starts the process; [`run`] hands the main thread to the service
//! dispatcher, which calls back on another thread with the service's arguments. That thread
//! reports RUNNING, runs the ordinary agent loop ([`crate::agent::run_with`]), and reports STOPPED
//! with the loop's result. STOP and SHUTDOWN controls call [`crate::agent::request_stop`], which
//! wakes the loop at once: it writes its checkpoint and returns, as on SIGTERM under systemd.
//!
//! A service has no console: events go to `%ProgramData%\tailgate\events.ndjson` when the
//! configuration says `sink = "stdout"` (the default), and diagnostics to
//! `%ProgramData%\tailgate\tailgate.log` (see [`crate::paths`]).

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use windows_service::service::{ServiceControl, ServiceControlAccept, ServiceExitCode, ServiceState, ServiceStatus, ServiceType};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::{define_windows_service, service_dispatcher};

/// The service's name in the service control manager (and in the MSI's ServiceInstall).
pub const NAME: &str = "tailgate";

struct Args {
    config: Option<PathBuf>,
    extra: Vec<PathBuf>,
    opts: crate::discover::Options,
}

static ARGS: OnceLock<Args> = OnceLock::new();

define_windows_service!(ffi_service_main, service_main);

/// Run as the service: blocks until the service stops. Fails at once when the process was not
/// started by the service control manager (e.g. from a console): run `tailgate` without
/// `--service` there.
pub fn run(config: Option<PathBuf>, extra: Vec<PathBuf>, opts: crate::discover::Options) -> anyhow::Result<()> {
    let _ = ARGS.set(Args { config, extra, opts });
    service_dispatcher::start(NAME, ffi_service_main).map_err(|e| {
        anyhow::anyhow!("cannot connect to the service control manager ({e}): --service is for the Windows service; run `tailgate` without it from a console")
    })
}

fn status(state: ServiceState, exit: u32) -> ServiceStatus {
    ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted: if state == ServiceState::Running {
            ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
        } else {
            ServiceControlAccept::empty()
        },
        exit_code: ServiceExitCode::Win32(exit),
        checkpoint: 0,
        wait_hint: if state == ServiceState::Running { Duration::default() } else { Duration::from_secs(10) },
        process_id: None,
    }
}

fn service_main(_args: Vec<OsString>) {
    let handler = |c| match c {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            crate::agent::request_stop();
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let handle = match service_control_handler::register(NAME, handler) {
        Ok(h) => h,
        Err(e) => {
            tracing::error!("registering the service control handler: {e}");
            return;
        }
    };
    let _ = handle.set_service_status(status(ServiceState::Running, 0));
    let layout = crate::paths::current();
    let result = match ARGS.get() {
        Some(a) => crate::agent::run_with(a.config.as_deref(), &a.extra, &a.opts, layout.service_events.as_deref()),
        None => Err(anyhow::anyhow!("service started without its arguments")),
    };
    let code = match &result {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("{e}");
            // ERROR_SERVICE_SPECIFIC_ERROR would need a second code; a generic failure is enough
            // for the SCM, and the message is in tailgate.log.
            1
        }
    };
    let _ = handle.set_service_status(ServiceStatus { process_id: None, ..status(ServiceState::Stopped, code) });
}
