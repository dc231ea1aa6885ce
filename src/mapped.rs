//! Memory-mapped reading of plain log files, safe against the file shrinking underneath.
//!
//! Mapping a file saves the kernel→user copy of `read(2)` (a sixth of a scan's time). The risk
//! is that a mapped file can be truncated while it is read — `logrotate`'s `copytruncate` does
//! exactly that to live logs — and touching a page past the new end raises SIGBUS, which would
//! kill the process. A SIGBUS handler (installed once) checks whether the faulting address lies
//! in one of our registered mappings; if so it maps a page of zeros over it (an
//! async-signal-safe `mmap` call), marks the mapping truncated and returns, so the read goes on
//! with zeros. The reader checks the mark after every block and stops, reporting where the file
//! ended. A SIGBUS anywhere else gets the default action.

#[cfg(unix)]
mod imp {
    use std::fs::File;
    use std::os::unix::io::AsRawFd;
    use std::sync::Once;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    const SLOTS: usize = 64;
    static STARTS: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
    static ENDS: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
    static TRUNCATED: [AtomicBool; SLOTS] = [const { AtomicBool::new(false) }; SLOTS];
    static INSTALL: Once = Once::new();

    extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
        // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
        let addr = unsafe { (*info).si_addr() } as usize;
        for i in 0..SLOTS {
            let (s, e) = (STARTS[i].load(Ordering::Acquire), ENDS[i].load(Ordering::Acquire));
            if s != 0 && addr >= s && addr < e {
                // SAFETY: sysconf and mmap are async-signal-safe; the page lies inside our own
                // mapping, which we own and only read.
                unsafe {
                    let page = libc::sysconf(libc::_SC_PAGESIZE) as usize;
                    let at = addr & !(page - 1);
                    libc::mmap(at as *mut libc::c_void, page, libc::PROT_READ, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED, -1, 0);
                }
                TRUNCATED[i].store(true, Ordering::Release);
                return;
            }
        }
        // Not ours: default action (the fault repeats and the process dies as it would have).
        // SAFETY: resetting a signal's disposition is async-signal-safe.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
        }
    }

    fn install() {
        INSTALL.call_once(|| {
            // SAFETY: a zeroed sigaction with our handler and SA_SIGINFO is a valid argument.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_sigbus as *const () as usize;
                sa.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
            }
        });
    }

    /// A read-only mapping of a byte range of a file, registered with the SIGBUS guard.
    pub struct Mapped {
        ptr: *mut libc::c_void,
        map_len: usize,
        /// Offset of the requested range inside the mapping (page alignment).
        skew: usize,
        len: usize,
        slot: usize,
    }

    // SAFETY: the mapping is read-only and owned; reading it from another thread is fine.
    unsafe impl Send for Mapped {}
    unsafe impl Sync for Mapped {}

    impl Mapped {
        /// Map `[start, start+len)` of `f`. `None` when mapping is not possible (then read(2)).
        pub fn new(f: &File, start: u64, len: usize) -> Option<Mapped> {
            if len == 0 {
                return None;
            }
            install();
            let slot = (0..SLOTS).find(|&i| STARTS[i].compare_exchange(0, usize::MAX, Ordering::AcqRel, Ordering::Acquire).is_ok())?;
            // SAFETY: sysconf has no preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
            let aligned = start & !(page - 1);
            let skew = (start - aligned) as usize;
            let map_len = len + skew;
            // SAFETY: a fresh private read-only mapping of a file we hold open.
            let ptr = unsafe { libc::mmap(std::ptr::null_mut(), map_len, libc::PROT_READ, libc::MAP_PRIVATE, f.as_raw_fd(), aligned as libc::off_t) };
            if ptr == libc::MAP_FAILED {
                STARTS[slot].store(0, Ordering::Release);
                return None;
            }
            // SAFETY: advice on our own mapping.
            unsafe {
                libc::madvise(ptr, map_len, libc::MADV_SEQUENTIAL);
            }
            TRUNCATED[slot].store(false, Ordering::Release);
            ENDS[slot].store(ptr as usize + map_len, Ordering::Release);
            STARTS[slot].store(ptr as usize, Ordering::Release);
            Some(Mapped { ptr, map_len, skew, len, slot })
        }

        /// The mapped bytes. After a truncation, pages past the end read as zeros.
        pub fn bytes(&self) -> &[u8] {
            // SAFETY: the mapping covers skew+len bytes and lives as long as self.
            unsafe { std::slice::from_raw_parts((self.ptr as *const u8).add(self.skew), self.len) }
        }

        /// Whether the file shrank under the mapping.
        pub fn truncated(&self) -> bool {
            TRUNCATED[self.slot].load(Ordering::Acquire)
        }

        /// Drop the pages before byte `upto` (of [`Mapped::bytes`]) from this process: they
        /// stay in the page cache, but no longer count as this process's resident memory.
        pub fn release(&self, from: usize, upto: usize) {
            // SAFETY: sysconf has no preconditions; madvise on a page-aligned sub-range of our
            // own read-only mapping; the pages are re-read from the file if touched again.
            unsafe {
                let page = libc::sysconf(libc::_SC_PAGESIZE) as usize;
                let a = (self.skew + from) & !(page - 1);
                let b = (self.skew + upto) & !(page - 1);
                if b > a {
                    libc::madvise((self.ptr as *mut u8).add(a) as *mut libc::c_void, b - a, libc::MADV_DONTNEED);
                }
            }
        }
    }

    impl Drop for Mapped {
        fn drop(&mut self) {
            STARTS[self.slot].store(0, Ordering::Release);
            ENDS[self.slot].store(0, Ordering::Release);
            // SAFETY: unmapping our own mapping once.
            unsafe {
                libc::munmap(self.ptr, self.map_len);
            }
        }
    }
}

#[cfg(unix)]
pub use imp::Mapped;

/// Without mmap support every read goes through read(2).
#[cfg(not(unix))]
pub struct Mapped;

#[cfg(not(unix))]
impl Mapped {
    pub fn new(_f: &std::fs::File, _start: u64, _len: usize) -> Option<Mapped> {
        None
    }
    pub fn bytes(&self) -> &[u8] {
        &[]
    }
    pub fn truncated(&self) -> bool {
        false
    }
    pub fn release(&self, _from: usize, _upto: usize) {}
}
