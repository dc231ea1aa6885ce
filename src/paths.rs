//! Paths: where the agent keeps its files by default, per platform ([`Layout`]), and how an
//! instance path is read ([`Root`]: under `--root`, symlinks resolved inside it; paths as text,
//! byte-exact, with [`path_text`]).
//!
//! | | Linux / Unix | Windows |
//! |---|---|---|
//! | configuration | `/etc/tailgate/tailgate.toml` | `%ProgramData%\tailgate\tailgate.toml` |
//! | profile overrides | `/etc/tailgate/profiles.d` | `%ProgramData%\tailgate\profiles.d` |
//! | state (checkpoints) | `/var/lib/tailgate` | `%ProgramData%\tailgate\state` |
//! | events of the service | the config's `sink` (packaged: `/var/log/tailgate/events.ndjson`) | `%ProgramData%\tailgate\events.ndjson` unless the config names a file |
//! | diagnostics of the service | the journal (stderr) | `%ProgramData%\tailgate\tailgate.log` |
//!
//! The Windows layout is computed from the value of `%ProgramData%` by plain functions, so the
//! rules are tested on every platform; only reading the environment differs.

use std::path::{Path, PathBuf};

/// The platform's default layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// `tailgate.toml`.
    pub config_file: PathBuf,
    /// Where profile overrides (`debian.toml`, …) are read from.
    pub profiles_dir: PathBuf,
    /// Where checkpoints are kept.
    pub state_dir: PathBuf,
    /// Where the Windows service writes events when the config says `stdout` (a service has no
    /// console). `None` on Unix: systemd hands stdout to the journal.
    pub service_events: Option<PathBuf>,
    /// Where the Windows service writes its diagnostics. `None` on Unix (stderr → journal).
    pub service_log: Option<PathBuf>,
}

/// The Unix layout (FHS).
pub fn unix() -> Layout {
    Layout {
        config_file: "/etc/tailgate/tailgate.toml".into(),
        profiles_dir: "/etc/tailgate/profiles.d".into(),
        state_dir: "/var/lib/tailgate".into(),
        service_events: None,
        service_log: None,
    }
}

/// The Windows layout under the given `%ProgramData%` (`C:\ProgramData` when unset or empty).
/// Built with `\` separators whatever the host, so it reads the same in tests on Linux.
pub fn windows(program_data: Option<&str>) -> Layout {
    let base = program_data.map(str::trim).filter(|s| !s.is_empty()).unwrap_or("C:\\ProgramData");
    let dir = format!("{}\\tailgate", base.trim_end_matches(['\\', '/']));
    let at = |tail: &str| PathBuf::from(format!("{dir}\\{tail}"));
    Layout {
        config_file: at("tailgate.toml"),
        profiles_dir: at("profiles.d"),
        state_dir: at("state"),
        service_events: Some(at("events.ndjson")),
        service_log: Some(at("tailgate.log")),
    }
}

/// The layout of the platform this binary runs on.
pub fn current() -> Layout {
    #[cfg(windows)]
    {
        let pd = known_program_data().or_else(|| std::env::var("ProgramData").ok());
        windows(pd.as_deref())
    }
    #[cfg(not(windows))]
    unix()
}

/// `%ProgramData%` as the shell knows it (FOLDERID_ProgramData, the folder Windows Installer
/// calls CommonAppDataFolder): a service's environment need not carry the variable, and under
/// Wine it names another folder.
#[cfg(windows)]
fn known_program_data() -> Option<String> {
    use windows_sys::Win32::System::Com::CoTaskMemFree;
    use windows_sys::Win32::UI::Shell::{FOLDERID_ProgramData, SHGetKnownFolderPath};
    let mut p: windows_sys::core::PWSTR = std::ptr::null_mut();
    // SAFETY: p receives a NUL-terminated wide string allocated by the shell (freed below).
    let hr = unsafe { SHGetKnownFolderPath(&FOLDERID_ProgramData, 0, std::ptr::null_mut(), &mut p) };
    let out = if hr >= 0 && !p.is_null() {
        // SAFETY: p is NUL-terminated; len stops before the NUL.
        let len = (0..).take_while(|&i| unsafe { *p.add(i) } != 0).count();
        Some(String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(p, len) }))
    } else {
        None
    };
    if !p.is_null() {
        // SAFETY: allocated by SHGetKnownFolderPath with the COM task allocator.
        unsafe { CoTaskMemFree(p as *const _) };
    }
    out
}

/// Config text and file names are bytes; tailgate's reports are text. A byte that is not part of
/// valid UTF-8 (a Latin-1 `é` in a file name, in the config that names it) is carried as a
/// private-use character (U+F780 + the byte − 0x80) so it can be turned back into the same byte
/// when the path is opened ([`Root::host`]): nothing is lost, and names stay byte-exact.
pub fn bytes_text(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        out.push_str(chunk.valid());
        for &x in chunk.invalid() {
            out.push(char::from_u32(0xF700 + x as u32).unwrap_or('\u{FFFD}'));
        }
    }
    out
}

/// A path as text (see [`bytes_text`]).
pub fn path_text(p: &Path) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        bytes_text(p.as_os_str().as_bytes())
    }
    #[cfg(not(unix))]
    {
        p.display().to_string()
    }
}

/// The bytes a path written by [`bytes_text`] stands for.
fn raw_path(p: &Path) -> std::borrow::Cow<'_, Path> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::{OsStrExt, OsStringExt};
        let b = p.as_os_str().as_bytes();
        // U+F780..U+F7FF in UTF-8: EF 9E 80 ..= EF 9F BF
        if !b.windows(2).any(|w| w[0] == 0xEF && (w[1] == 0x9E || w[1] == 0x9F)) {
            return std::borrow::Cow::Borrowed(p);
        }
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if i + 2 < b.len() && b[i] == 0xEF && (b[i + 1] == 0x9E || b[i + 1] == 0x9F) && (0x80..0xC0).contains(&b[i + 2]) {
                let cp = 0xF000 + ((b[i + 1] as u32 & 0x3F) << 6) + (b[i + 2] as u32 & 0x3F);
                if (0xF780..=0xF7FF).contains(&cp) {
                    out.push((cp - 0xF700) as u8);
                    i += 3;
                    continue;
                }
            }
            out.push(b[i]);
            i += 1;
        }
        std::borrow::Cow::Owned(PathBuf::from(std::ffi::OsString::from_vec(out)))
    }
    #[cfg(not(unix))]
    {
        std::borrow::Cow::Borrowed(p)
    }
}

/// Maps instance paths (what a config names: `/var/log/nginx/access.log`) to where they are read
/// from: the same path, or under `--root DIR` (a copied server tree), symlinks and `..` resolved
/// inside the root.
#[derive(Clone, Debug, Default)]
pub struct Root {
    /// `--root DIR`, or `None`: the live filesystem.
    pub dir: Option<PathBuf>,
}

/// What a path resolves to under a root whose symlinks loop: no such file can exist there (a
/// NUL-free name that no server writes), so opening it fails and nothing outside is touched.
const UNRESOLVABLE: &str = ".tailgate-unresolvable-symlink-loop";

impl Root {
    /// Instance paths under `dir` (`None`: as they are).
    pub fn new(dir: Option<PathBuf>) -> Self {
        Root { dir }
    }

    /// The instance path `p` joined under the root, unresolved (for names already resolved).
    fn raw(&self, p: &Path) -> PathBuf {
        match &self.dir {
            Some(r) => r.join(p.strip_prefix("/").unwrap_or(p)),
            None => p.to_path_buf(),
        }
    }

    /// Where the instance path `p` is read from on this machine — the one place that decides it.
    /// Without `--root`, `p` itself. Under `--root DIR`, resolved the way a chroot would: `..`
    /// stops at DIR, every symlink on the way is followed inside DIR (an absolute target is
    /// re-rooted, as Debian's `sites-enabled/default -> /etc/nginx/sites-available/default`
    /// needs), and a symlink loop maps to a name that cannot exist. The result holds no symlink,
    /// so nothing outside DIR is ever opened through it.
    pub fn host(&self, p: &Path) -> PathBuf {
        let p = &*raw_path(p);
        match &self.dir {
            None => p.to_path_buf(),
            Some(r) => match self.resolve_in(p) {
                Some(ip) => self.raw(&ip),
                None => r.join(UNRESOLVABLE),
            },
        }
    }

    /// The instance path of a host path under the root.
    pub fn instance(&self, p: &Path) -> PathBuf {
        match &self.dir {
            Some(r) => match p.strip_prefix(r) {
                Ok(rel) => Path::new("/").join(rel),
                Err(_) => p.to_path_buf(),
            },
            None => p.to_path_buf(),
        }
    }

    /// Resolve symlinks and `..` inside the root (see [`Root::host`]), returning the instance
    /// path; a symlink loop leaves `p` as it is.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        self.resolve_in(p).unwrap_or_else(|| p.to_path_buf())
    }

    /// `None`: more than 40 symlinks on the way (a loop).
    fn resolve_in(&self, p: &Path) -> Option<PathBuf> {
        use std::path::Component;
        let mut out = PathBuf::from("/");
        let mut todo: Vec<std::ffi::OsString> = p
            .components()
            .filter_map(|c| match c {
                Component::Normal(s) => Some(s.to_os_string()),
                Component::ParentDir => Some("..".into()),
                _ => None,
            })
            .rev()
            .collect();
        let mut hops = 0;
        while let Some(c) = todo.pop() {
            if c == ".." {
                out.pop(); // (never above "/")
                continue;
            }
            let next = out.join(&c);
            match std::fs::read_link(self.raw(&next)) {
                Ok(target) => {
                    hops += 1;
                    if hops > 40 {
                        return None;
                    }
                    if target.is_absolute() {
                        out = PathBuf::from("/");
                    }
                    for t in target.components().rev() {
                        match t {
                            Component::Normal(s) => todo.push(s.to_os_string()),
                            Component::ParentDir => todo.push("..".into()),
                            _ => {}
                        }
                    }
                }
                Err(_) => out = next,
            }
        }
        Some(out)
    }

    /// Instance paths matching a glob pattern (an instance path), sorted. Walked a component at a
    /// time, every directory listed through [`Root::host`] (so a symlinked directory under the
    /// root is followed inside it, never out of it); like glob(3), which nginx, Apache and
    /// lighttpd use, `*` does not match a leading dot (`.default.conf` is disabled).
    pub fn glob(&self, pattern: &str) -> Vec<PathBuf> {
        self.glob_noting(pattern, &mut |_| {})
    }

    /// [`Root::glob`], telling `unreadable` of each directory on the way that cannot be listed
    /// (its files, if any match, are not found: the server, running as another user, may see
    /// them).
    pub fn glob_noting(&self, pattern: &str, unreadable: &mut dyn FnMut(String)) -> Vec<PathBuf> {
        use std::path::Component;
        let opts = glob::MatchOptions { case_sensitive: true, require_literal_separator: true, require_literal_leading_dot: true };
        let mut cur: Vec<PathBuf> = vec![PathBuf::from("/")];
        for c in Path::new(pattern).components() {
            match c {
                Component::Normal(name) => {
                    let n = name.to_string_lossy();
                    if has_glob(&n) {
                        let Ok(pat) = glob::Pattern::new(&n) else { return Vec::new() };
                        let mut next = Vec::new();
                        for d in &cur {
                            let rd = match std::fs::read_dir(self.host(d)) {
                                Ok(rd) => rd,
                                Err(e) => {
                                    if e.kind() != std::io::ErrorKind::NotFound {
                                        unreadable(format!("{}: cannot list the directory ({e}): what it holds for \"{pattern}\" is not read", path_text(d)));
                                    }
                                    continue;
                                }
                            };
                            let mut names: Vec<std::ffi::OsString> = rd.filter_map(Result::ok).map(|e| e.file_name()).collect();
                            names.sort();
                            next.extend(names.into_iter().filter(|e| pat.matches_with(&path_text(Path::new(e)), opts)).map(|e| d.join(e)));
                        }
                        cur = next;
                    } else {
                        cur = cur.into_iter().map(|d| d.join(name)).collect();
                    }
                }
                Component::ParentDir => {
                    for d in cur.iter_mut() {
                        d.pop();
                    }
                }
                _ => {}
            }
            if cur.is_empty() {
                break;
            }
        }
        let mut v: Vec<PathBuf> = cur.into_iter().filter(|p| std::fs::symlink_metadata(self.host(p)).is_ok()).collect();
        v.sort();
        v.dedup();
        v
    }

    /// Read a file (instance path) the servers would read: confined to the root, a regular file
    /// only (a FIFO, device or socket is never opened — a FIFO would block, `/dev/zero` never
    /// ends), and at most `max` bytes actually read (not what the file says its size is).
    pub fn read(&self, p: &Path, max: u64) -> anyhow::Result<Vec<u8>> {
        read_regular(&self.host(p), max).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
    }
}

/// Read a regular file, at most `max` bytes (see [`Root::read`]).
pub fn read_regular(host: &Path, max: u64) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let meta = std::fs::metadata(host).map_err(|e| anyhow::anyhow!("cannot read: {e}"))?;
    if meta.is_dir() {
        return Err(anyhow::anyhow!("is a directory"));
    }
    if !meta.is_file() {
        return Err(anyhow::anyhow!("not a regular file (a FIFO, device or socket): not read"));
    }
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // (swapped for a FIFO since the check: the open must not wait for a writer)
        o.custom_flags(libc::O_NONBLOCK);
    }
    let f = o.open(host).map_err(|e| anyhow::anyhow!("cannot read: {e}"))?;
    if !f.metadata().map(|m| m.is_file()).unwrap_or(false) {
        return Err(anyhow::anyhow!("not a regular file: not read"));
    }
    let mut data = Vec::new();
    f.take(max + 1).read_to_end(&mut data).map_err(|e| anyhow::anyhow!("cannot read: {e}"))?;
    if data.len() as u64 > max {
        return Err(anyhow::anyhow!("over the {max} byte limit for a config file: skipped"));
    }
    Ok(data)
}

/// The rotated siblings of a log, sorted by name: `a.log.1`, `a.log.2.gz`, `a.log-20261125` —
/// a file in the same directory whose name is the log's followed by `.` or `-` and more.
pub fn rotated_siblings(base: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (base.parent(), base.file_name().and_then(|n| n.to_str())) else { return Vec::new() };
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut sibs: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.len() > name.len() + 1 && n.starts_with(name) && matches!(n.as_bytes()[name.len()], b'.' | b'-'))
        })
        .collect();
    sibs.sort();
    sibs
}

/// Whether a path has glob metacharacters.
pub fn has_glob(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn windows_layout_follows_program_data() {
        let l = windows(Some("D:\\Data\\"));
        assert_eq!(l.config_file, PathBuf::from("D:\\Data\\tailgate\\tailgate.toml"));
        assert_eq!(l.state_dir, PathBuf::from("D:\\Data\\tailgate\\state"));
        assert_eq!(l.profiles_dir, PathBuf::from("D:\\Data\\tailgate\\profiles.d"));
        assert_eq!(l.service_events, Some(PathBuf::from("D:\\Data\\tailgate\\events.ndjson")));
        assert_eq!(l.service_log, Some(PathBuf::from("D:\\Data\\tailgate\\tailgate.log")));
        for unset in [None, Some(""), Some("  ")] {
            assert_eq!(windows(unset).config_file, PathBuf::from("C:\\ProgramData\\tailgate\\tailgate.toml"));
        }
    }

    #[test]
    fn unix_layout_is_fhs() {
        let l = unix();
        assert_eq!(l.config_file, Path::new("/etc/tailgate/tailgate.toml"));
        assert_eq!(l.state_dir, Path::new("/var/lib/tailgate"));
        assert!(l.service_events.is_none() && l.service_log.is_none());
        #[cfg(unix)]
        assert_eq!(current(), unix());
    }

    #[cfg(windows)]
    #[test]
    fn current_on_windows_is_under_the_known_program_data_folder() {
        let pd = known_program_data().expect("FOLDERID_ProgramData");
        assert!(pd.len() > 3 && pd.as_bytes()[1] == b':', "{pd}");
        assert_eq!(current(), windows(Some(&pd)));
        assert!(current().config_file.starts_with(&pd));
    }
}

#[cfg(all(test, unix))] // symlinks in a temp dir
mod root_tests {
    use super::*;

    #[test]
    fn root_mapping_and_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let r = Root::new(Some(d.path().to_path_buf()));
        std::fs::create_dir_all(d.path().join("var/log/httpd")).unwrap();
        std::fs::create_dir_all(d.path().join("etc/httpd")).unwrap();
        std::os::unix::fs::symlink("../../var/log/httpd", d.path().join("etc/httpd/logs")).unwrap();
        assert_eq!(r.resolve(Path::new("/etc/httpd/logs/error_log")), PathBuf::from("/var/log/httpd/error_log"));
        std::os::unix::fs::symlink("/var/log/httpd", d.path().join("etc/abs")).unwrap();
        assert_eq!(r.resolve(Path::new("/etc/abs/x")), PathBuf::from("/var/log/httpd/x"));
        assert_eq!(r.host(Path::new("/etc/x")), d.path().join("etc/x"));
        assert_eq!(r.instance(&d.path().join("etc/x")), PathBuf::from("/etc/x"));
    }
}
