//! Writes the man page and shell completions the packages ship, from the same clap definition
//! the binary parses with (so they cannot drift): `cargo run --example gen_assets -- OUT_DIR`.
//!
//! OUT_DIR/tailgate.1, OUT_DIR/completions/{tailgate.bash, _tailgate, tailgate.fish}.

use std::path::PathBuf;

use clap::CommandFactory;
use clap_complete::Shell;

fn main() -> std::io::Result<()> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "target/assets".into()));
    std::fs::create_dir_all(out.join("completions"))?;
    let cmd = tailgate::cli::Cli::command();
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
    page.extend_from_slice(FILES.as_bytes());
    std::fs::write(out.join("tailgate.1"), page)?;
    for (shell, name) in [(Shell::Bash, "tailgate.bash"), (Shell::Zsh, "_tailgate"), (Shell::Fish, "tailgate.fish")] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut cmd.clone(), "tailgate", &mut buf);
        std::fs::write(out.join("completions").join(name), buf)?;
    }
    eprintln!("wrote {}/tailgate.1 and completions/", out.display());
    Ok(())
}

/// The FILES section: where the packaged agent keeps things (roff).
const FILES: &str = r#".SH FILES
.TP
\fI/etc/tailgate/tailgate.toml\fR
The agent's configuration (read when no mode flag is given). SIGHUP or
\fBsystemctl reload tailgate\fR reads it again.
.TP
\fI/etc/tailgate/profiles.d/\fR
Per-OS profile overrides for discovery (e.g. \fIdebian.toml\fR).
.TP
\fI/var/lib/tailgate/\fR
Checkpoints (how far each log was read).
.TP
\fI/var/log/tailgate/events.ndjson\fR
Events of the packaged service, one JSON object per line (one \fI.1\fR kept).
.PP
On Windows the same files live under \fI%ProgramData%\\tailgate\\\fR, and the service's
diagnostics in \fItailgate.log\fR there.
.SH EXIT STATUS
0 on success; 1 when \fB--probe\fR found violations; 2 on an error (unreadable input, bad
arguments or configuration).
"#;
