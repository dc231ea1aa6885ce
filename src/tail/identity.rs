//! File identity: device + inode, plus the file's first bytes.
//!
//! Inodes are reused (quickly on tmpfs), and a file can be truncated and rewritten in place, so
//! device + inode alone would resume a new file at a stale offset. The first `HEAD` bytes (as
//! many as the file has, growing up to `HEAD` as it grows) tell the difference: the same file's
//! head only ever grows; another file's differs.

use std::fs::{File, Metadata};

/// How many leading bytes identify a file.
pub const HEAD: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub dev: u64,
    pub ino: u64,
    pub head: Vec<u8>,
}

fn read_head(f: &File, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < len {
        #[cfg(unix)]
        let r = {
            use std::os::unix::fs::FileExt;
            f.read_at(&mut buf[got..], got as u64)
        };
        #[cfg(windows)]
        let r = {
            use std::os::windows::fs::FileExt;
            f.seek_read(&mut buf[got..], got as u64)
        };
        match r {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    buf.truncate(got);
    buf
}

/// Open a log for reading. On Windows with every share mode, so IIS can keep writing, renaming
/// and deleting it while it is open (Rust's default, made explicit).
pub fn open_shared(p: &std::path::Path) -> std::io::Result<File> {
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        // FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE
        std::fs::OpenOptions::new().read(true).share_mode(0x1 | 0x2 | 0x4).open(p)
    }
    #[cfg(not(windows))]
    {
        File::open(p)
    }
}

/// Device and inode of an open file: on Windows the volume serial number and the NTFS file
/// index (GetFileInformationByHandle); (0, 0) where the platform has neither.
pub fn dev_ino(f: &File, meta: &Metadata) -> (u64, u64) {
    #[cfg(unix)]
    {
        let _ = f;
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    }
    #[cfg(windows)]
    {
        let _ = meta;
        use std::os::windows::io::AsRawHandle;
        use windows_sys::Win32::Storage::FileSystem::{BY_HANDLE_FILE_INFORMATION, GetFileInformationByHandle};
        // SAFETY: a valid open handle and a zeroed out-struct the call fills.
        let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
        if unsafe { GetFileInformationByHandle(f.as_raw_handle() as _, &mut info) } == 0 {
            return (0, 0);
        }
        (u64::from(info.dwVolumeSerialNumber), (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow))
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = (f, meta);
        (0, 0)
    }
}

/// [`dev_ino`] of the file at `p`, with its metadata already read: a stat on Unix; on Windows
/// the file is opened (with every share mode) for its handle.
pub fn dev_ino_at(p: &std::path::Path, meta: &Metadata) -> (u64, u64) {
    #[cfg(unix)]
    {
        let _ = p;
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    }
    #[cfg(not(unix))]
    {
        match open_shared(p) {
            Ok(f) => dev_ino(&f, meta),
            Err(_) => (0, 0),
        }
    }
}

/// Whether an open file has been deleted (no name left, or — on Windows — deleted while we hold
/// it open, which keeps it "delete pending" until our handle closes: it must then be drained
/// and released, or the writer cannot create a file of that name again).
pub fn deleted(f: &File) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        f.metadata().map(|m| m.nlink() == 0).unwrap_or(true)
    }
    #[cfg(windows)]
    {
        use std::os::windows::io::AsRawHandle;
        use windows_sys::Win32::Storage::FileSystem::{FILE_STANDARD_INFO, FileStandardInfo, GetFileInformationByHandleEx};
        let mut info = FILE_STANDARD_INFO::default();
        // SAFETY: a valid open handle and an out-struct of the size given.
        let ok = unsafe {
            GetFileInformationByHandleEx(
                f.as_raw_handle() as _,
                FileStandardInfo,
                &mut info as *mut _ as *mut _,
                std::mem::size_of::<FILE_STANDARD_INFO>() as u32,
            )
        };
        ok == 0 || info.DeletePending || info.NumberOfLinks == 0
    }
    #[cfg(not(any(unix, windows)))]
    {
        f.metadata().is_err()
    }
}

/// A checkpointed head (hex) as bytes; `None` when it is not hex.
pub fn head_from_hex(hex: &str) -> Option<Vec<u8>> {
    (0..hex.len() / 2).map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()).collect()
}

impl Identity {
    pub fn of(f: &File, meta: &Metadata) -> Option<Identity> {
        let (dev, ino) = dev_ino(f, meta);
        let len = (meta.len() as usize).min(HEAD);
        Some(Identity { dev, ino, head: read_head(f, len) })
    }

    /// The same file: same dev+inode, and one head is a prefix of the other (a file only grows
    /// at its end; a truncated file's empty head is a prefix of anything).
    ///
    /// A network filesystem remounted gets a new device number: with a full head (`HEAD`
    /// bytes) on both sides, the inode and the content are enough.
    pub fn same_file(&self, other: &Identity) -> bool {
        let full = self.head.len() == HEAD && other.head.len() == HEAD;
        self.ino == other.ino && (self.dev == other.dev || full) && {
            let n = self.head.len().min(other.head.len());
            self.head[..n] == other.head[..n]
        }
    }

    /// Whether this file could be a copy of a file whose first bytes were `head`: it starts with
    /// them (a copy made by `cp` starts with the same bytes, however many of them we know).
    pub fn starts_with_head(&self, head: &[u8]) -> bool {
        let n = head.len().min(self.head.len());
        self.head[..n] == head[..n] && (head.len() <= self.head.len() || self.head.len() == HEAD)
    }

    /// Whether the open file still starts with the head we know.
    pub fn head_still_matches(&self, f: &File) -> bool {
        if self.head.is_empty() {
            return true;
        }
        let now = read_head(f, self.head.len());
        now.len() < self.head.len() || now == self.head
    }

    /// Grow the head up to `HEAD` bytes as the file grows.
    pub fn extend_head(&mut self, f: &File, size: u64) {
        if self.head.len() < HEAD && (size as usize) > self.head.len() {
            let h = read_head(f, (size as usize).min(HEAD));
            if h.starts_with(&self.head) {
                self.head = h;
            }
        }
    }

    pub fn head_hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(self.head.len() * 2);
        for b in &self.head {
            s.push(HEX[(b >> 4) as usize] as char);
            s.push(HEX[(b & 15) as usize] as char);
        }
        s
    }

    /// Whether a checkpointed head (hex) belongs to this file.
    pub fn matches_head_hex(&self, hex: &str) -> bool {
        match head_from_hex(hex) {
            Some(b) => {
                let n = b.len().min(self.head.len());
                b[..n] == self.head[..n] && (b.len() <= self.head.len() || self.head.len() == HEAD)
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An open file deleted by name reads as deleted (nlink 0; on Windows delete-pending).
    /// Unix only: Wine 8 reports neither DeletePending nor a zero link count for it, so under
    /// Wine this cannot be checked (the Windows branch follows the documented FILE_STANDARD_INFO).
    #[cfg(unix)]
    #[test]
    fn an_open_file_deleted_by_name_is_seen_as_deleted() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("gone.log");
        std::fs::write(&p, b"x\n").unwrap();
        let f = open_shared(&p).unwrap();
        assert!(!deleted(&f));
        std::fs::remove_file(&p).unwrap();
        assert!(deleted(&f));
    }

    /// Two files never share an identity; a renamed file keeps its own (on Windows too, where
    /// the metadata has no inode and the handle is asked).
    #[test]
    fn files_have_distinct_stable_ids() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a.log"), d.path().join("b.log"));
        std::fs::write(&a, b"same\n").unwrap();
        std::fs::write(&b, b"same\n").unwrap();
        let id = |p: &std::path::Path| {
            let f = open_shared(p).unwrap();
            let m = f.metadata().unwrap();
            let by_handle = dev_ino(&f, &m);
            assert_eq!(by_handle, dev_ino_at(p, &m));
            by_handle
        };
        let (ia, ib) = (id(&a), id(&b));
        assert_ne!(ia, ib);
        assert_ne!(ia.1, 0, "a real file index");
        let moved = d.path().join("a.log.1");
        std::fs::rename(&a, &moved).unwrap();
        assert_eq!(id(&moved), ia);
    }

    #[test]
    fn a_remount_changes_the_device_not_the_file() {
        let full = vec![b'x'; HEAD];
        let a = Identity { dev: 1, ino: 7, head: full.clone() };
        let remounted = Identity { dev: 2, ino: 7, head: full.clone() };
        assert!(a.same_file(&remounted), "inode + a full head survive a new device number");
        let short = Identity { dev: 1, ino: 7, head: b"abc".to_vec() };
        let short_other_dev = Identity { dev: 2, ino: 7, head: b"abc".to_vec() };
        assert!(!short.same_file(&short_other_dev), "with a short head the device must match too");
        let reused = Identity { dev: 1, ino: 7, head: vec![b'y'; HEAD] };
        assert!(!a.same_file(&reused), "inode reuse: other content");
        assert!(a.matches_head_hex(&a.head_hex()));
    }
}
