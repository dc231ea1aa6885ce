//! Where the agent keeps its files by default, per platform.
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

use std::path::PathBuf;

/// The platform's default layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub config_file: PathBuf,
    pub profiles_dir: PathBuf,
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
