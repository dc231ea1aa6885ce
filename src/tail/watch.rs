//! Directory watching: "something changed here, look now".
//!
//! On Linux this talks to inotify directly, subscribed only to changes (modify, create, delete,
//! move, attrib) — not to opens and reads, which the agent itself causes — and its reader thread
//! sleeps 10 ms after each wake-up so the kernel coalesces a burst of identical
//! events into one. (Through `notify`, every write to a busy log woke a thread: about 10 000
//! context switches a second at 10 k lines/s.) Elsewhere `notify`'s recommended watcher is used
//! (ReadDirectoryChangesW, FSEvents). A queue overflow or an error is just another "look now":
//! every poll stats every followed file.

use std::path::Path;
use std::sync::mpsc::Sender;

#[cfg(target_os = "linux")]
mod imp {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;
    use std::sync::Arc;
    use std::sync::mpsc::Sender;
    use std::time::Duration;

    pub struct Watcher {
        fd: Arc<OwnedFd>,
    }

    impl Watcher {
        pub fn new(tx: Sender<()>) -> anyhow::Result<Watcher> {
            // SAFETY: inotify_init1 has no preconditions; the fd is owned from here on.
            let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
            if raw < 0 {
                return Err(anyhow::anyhow!("inotify_init1: {}", std::io::Error::last_os_error()));
            }
            // SAFETY: raw is a fresh descriptor we own.
            let fd = Arc::new(unsafe { OwnedFd::from_raw_fd(raw) });
            let rfd = fd.clone();
            std::thread::Builder::new()
                .name("tailgate-inotify".into())
                .spawn(move || {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let mut p = libc::pollfd { fd: rfd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
                        // SAFETY: one valid pollfd.
                        if unsafe { libc::poll(&mut p, 1, -1) } < 0 {
                            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                                continue;
                            }
                            return;
                        }
                        // let a burst coalesce in the kernel queue, then drain it
                        std::thread::sleep(Duration::from_millis(10));
                        loop {
                            // SAFETY: reading into our own buffer.
                            let n = unsafe { libc::read(rfd.as_raw_fd(), buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
                            if n <= 0 {
                                break;
                            }
                        }
                        if tx.send(()).is_err() {
                            return;
                        }
                    }
                })
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(Watcher { fd })
        }

        pub fn watch(&mut self, dir: &Path) -> anyhow::Result<()> {
            let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).map_err(|e| anyhow::anyhow!("{e}"))?;
            let mask = libc::IN_MODIFY
                | libc::IN_ATTRIB
                | libc::IN_CREATE
                | libc::IN_DELETE
                | libc::IN_MOVED_FROM
                | libc::IN_MOVED_TO
                | libc::IN_DELETE_SELF
                | libc::IN_MOVE_SELF
                | libc::IN_CLOSE_WRITE;
            // SAFETY: a valid fd and NUL-terminated path.
            let wd = unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), c.as_ptr(), mask) };
            if wd < 0 {
                let e = std::io::Error::last_os_error();
                return Err(if e.raw_os_error() == Some(libc::ENOSPC) {
                    anyhow::anyhow!("{e} (the inotify watch limit, fs.inotify.max_user_watches, is reached)")
                } else {
                    anyhow::anyhow!("{e}")
                });
            }
            Ok(())
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::path::Path;
    use std::sync::mpsc::Sender;

    pub struct Watcher {
        w: notify::RecommendedWatcher,
    }

    impl Watcher {
        pub fn new(tx: Sender<()>) -> anyhow::Result<Watcher> {
            let w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                // opens and reads are not changes (and the agent causes them)
                if let Ok(ev) = &res {
                    if matches!(ev.kind, notify::EventKind::Access(_)) {
                        return;
                    }
                }
                let _ = tx.send(());
            })
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(Watcher { w })
        }

        pub fn watch(&mut self, dir: &Path) -> anyhow::Result<()> {
            use notify::Watcher as _;
            self.w.watch(dir, notify::RecursiveMode::NonRecursive).map_err(|e| anyhow::anyhow!("{e}"))
        }
    }
}

/// Watches directories; every change is one `()` on the channel (bursts coalesced).
pub struct DirWatcher(imp::Watcher);

impl DirWatcher {
    pub fn new(tx: Sender<()>) -> anyhow::Result<DirWatcher> {
        imp::Watcher::new(tx).map(DirWatcher)
    }

    pub fn watch(&mut self, dir: &Path) -> anyhow::Result<()> {
        self.0.watch(dir)
    }
}
