//! A program on a terminal of its own: a detached tmux session, typed
//! into with `send-keys` and read with `capture-pane`.

use std::process::Command;
use std::time::{Duration, Instant};

/// A detached tmux session, killed on drop.
pub struct Tmux(pub String);

impl Tmux {
    pub fn capture(&self) -> String {
        let out = Command::new("tmux").args(["capture-pane", "-p", "-t", &self.0]).output().expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn keys(&self, keys: &str) {
        let ok = Command::new("tmux").args(["send-keys", "-t", &self.0, keys]).status().expect("tmux");
        assert!(ok.success(), "tmux send-keys {keys}");
    }

    /// Wait until the pane shows `text`; the pane's last picture on failure.
    pub fn wait_for(&self, text: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let screen = self.capture();
            if screen.contains(text) {
                return screen;
            }
            assert!(Instant::now() < deadline, "the screen never showed {text:?}:\n{screen}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["kill-session", "-t", &self.0]).status();
    }
}

pub fn tmux_available() -> bool {
    let found = Command::new("tmux").arg("-V").output().is_ok_and(|o| o.status.success());
    if !found {
        let message = "tmux is not installed (apt-get install tmux): skipping the screen test";
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "{message}, but CI=true requires it");
        eprintln!("SKIPPED: {message}");
    }
    found
}
