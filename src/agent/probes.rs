//! `[[probes]]`: URLs probed periodically, each on its own thread (a probe that hangs until its
//! deadline holds up no other); every violation is a `malformed-output` event.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::event::{AgentEvent, Malformed, ProbeViolation};
use crate::config::ProbeConfig;

/// Start one thread per probe; `wake` wakes the agent loop when an event is ready.
pub fn start(probes: &[ProbeConfig], lb_idle: u64, wake: mpsc::Sender<()>) -> Option<super::Feed> {
    if probes.is_empty() {
        return None;
    }
    let (tx, rx) = mpsc::channel();
    let quit = Arc::new(AtomicBool::new(false));
    for (i, p) in probes.iter().enumerate() {
        let (p, tx, wake, quit) = (p.clone(), tx.clone(), wake.clone(), quit.clone());
        let url = p.url.clone();
        let spawned = std::thread::Builder::new().name(format!("tailgate-probe-{i}")).spawn(move || {
            // The ranges are checked when the configuration is read (crate::limits).
            let timeout = Duration::from_secs_f64(p.timeout_secs);
            let interval = Duration::from_secs(p.interval_secs);
            while !quit.load(Ordering::SeqCst) {
                let next = Instant::now() + interval;
                let rep = crate::probe::probe(&crate::probe::Options {
                    url: p.url.clone(),
                    method: "GET".into(),
                    headers: p.headers.clone(),
                    timeout,
                    deadline: timeout * 3,
                    idle: Duration::ZERO,
                    lb_idle_timeout: Duration::from_secs(lb_idle),
                    verify: false,
                });
                for v in &rep.violations {
                    let ev = AgentEvent::MalformedOutput(Malformed::Probe(ProbeViolation {
                        source: "probe",
                        rule: v.rule,
                        rfc: v.rfc,
                        url: p.url.clone(),
                        status: rep.status,
                        message: v.message.clone(),
                        fix: v.fix,
                        timestamp: crate::time::format_utc(
                            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0),
                            crate::time::Precision::Milli,
                        ),
                    }));
                    if tx.send(ev).is_err() || wake.send(()).is_err() {
                        return;
                    }
                }
                while !quit.load(Ordering::SeqCst) {
                    let left = next.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    std::thread::sleep(left.min(Duration::from_millis(200)));
                }
            }
        });
        if let Err(e) = spawned {
            tracing::error!("cannot start the probe of {url}: {e}");
        }
    }
    Some(super::Feed::new(rx, quit))
}
