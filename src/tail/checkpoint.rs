//! Checkpoints: per file identity, the offset a restart resumes from. Written atomically (a temp
//! file, fsync, rename over the old one, fsync the directory), so a crash leaves either the old or
//! the new checkpoint, never a torn one; a checkpoint that does not parse is set aside, named in a
//! warning, and never makes the agent re-read everything silently.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The agent's read positions, saved in the state directory (`checkpoints.json`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The file's format version.
    pub version: u32,
    /// One entry per followed file.
    pub files: Vec<Entry>,
}

/// Where one file was read up to, and how to know it again after a restart or rotation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The path it was followed at.
    pub path: String,
    /// Its device …
    pub dev: u64,
    /// … and inode number.
    pub ino: u64,
    /// The file's first bytes (hex), see `super::identity`.
    pub head: String,
    /// The byte offset read up to (the start of the first line not yet handed out).
    pub offset: u64,
}

/// The checkpoint file's name in the state directory.
pub const FILE_NAME: &str = "checkpoints.json";

/// The checkpoint file of a state directory.
pub fn path_in(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE_NAME)
}

/// Load the checkpoint of `state_dir`. `Ok(None)` when there is none (a first start).
pub fn load(state_dir: &Path) -> anyhow::Result<Option<Checkpoint>> {
    let p = path_in(state_dir);
    let text = match fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(anyhow::anyhow!("{}: {e}", p.display())),
    };
    serde_json::from_str(&text).map(Some).map_err(|e| anyhow::anyhow!("{}: not a valid checkpoint ({e})", p.display()))
}

/// Write `c` atomically into `state_dir`.
pub fn store(state_dir: &Path, c: &Checkpoint) -> std::io::Result<()> {
    fs::create_dir_all(state_dir)?;
    let tmp = state_dir.join(format!(".{FILE_NAME}.tmp"));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(c).map_err(std::io::Error::other)?)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path_in(state_dir))?;
    if let Ok(d) = File::open(state_dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_garbage() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(load(d.path()).unwrap(), None);
        let c = Checkpoint { version: 1, files: vec![Entry { path: "/a".into(), dev: 1, ino: 2, head: "41".into(), offset: 9 }] };
        store(d.path(), &c).unwrap();
        assert_eq!(load(d.path()).unwrap(), Some(c));
        fs::write(path_in(d.path()), "{torn").unwrap();
        assert!(load(d.path()).unwrap_err().to_string().contains("not a valid checkpoint"));
    }
}
