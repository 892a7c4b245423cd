//! alsa-lib and libjack print to stderr when devices are opened or probed
//! (`ALSA lib pcm.c:… Unknown PCM default`, `Cannot connect to server…`).
//! While a [`StderrCapture`] lives, file descriptor 2 points at a log file
//! instead, so the user sees one clear line from us rather than that noise.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::PathBuf;

/// Where the chatter goes: `$XDG_STATE_HOME/ferrotape/audio.log`, else
/// `~/.local/state/ferrotape/audio.log`, else the temporary directory.
pub fn log_path() -> PathBuf {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")));
    match state {
        Some(dir) => dir.join("ferrotape").join("audio.log"),
        None => std::env::temp_dir().join("ferrotape-audio.log"),
    }
}

/// Append one line to the audio log (for what the screen can only show
/// shortened). Errors are returned, not printed: stderr may be the log.
pub fn append_to_log(line: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let path = log_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut log = OpenOptions::new().create(true).append(true).open(&path)?;
    writeln!(log, "{line}")
}

/// Redirects stderr to the audio log until dropped.
pub struct StderrCapture {
    saved: Option<libc::c_int>,
    _log: Option<File>,
}

impl StderrCapture {
    /// Start capturing; does nothing (and captures nothing) when the log
    /// file cannot be opened or the environment asks to see the chatter
    /// (`FERROTAPE_AUDIO_STDERR=1`).
    pub fn begin() -> StderrCapture {
        let none = StderrCapture { saved: None, _log: None };
        if std::env::var_os("FERROTAPE_AUDIO_STDERR").is_some_and(|v| v == "1") {
            return none;
        }
        let path = log_path();
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let Ok(log) = OpenOptions::new().create(true).append(true).open(&path) else { return none };
        // SAFETY: plain descriptor calls on descriptors we own or on 2; a
        // failure leaves stderr as it was.
        unsafe {
            let saved = libc::dup(2);
            if saved < 0 {
                return none;
            }
            if libc::dup2(log.as_raw_fd(), 2) < 0 {
                libc::close(saved);
                return none;
            }
            StderrCapture { saved: Some(saved), _log: Some(log) }
        }
    }
}

impl Drop for StderrCapture {
    fn drop(&mut self) {
        if let Some(saved) = self.saved.take() {
            // SAFETY: `saved` is the duplicate made in `begin`.
            unsafe {
                libc::dup2(saved, 2);
                libc::close(saved);
            }
        }
    }
}
