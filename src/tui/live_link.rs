//! The screen on real audio: an [`InstrumentLink`] over a [`LiveSession`].
//!
//! Every method returns at once. The session's housekeeping (device health,
//! autosave, learned bindings) runs from [`InstrumentLink::poll`], which the
//! screen calls every frame.

use super::link::{InstrumentLink, LearnTarget, LearnWhat, LinkStatus};
use crate::bridge::LiveStats;
use crate::engine::{Command, EngineConfig, EngineSnapshot};
use crate::io::stderr::StderrCapture;
use crate::live::{LiveOptions, LiveSession, PlayReport};
use crate::midi_map::{BindingTarget, LearnRequest, TrackTarget};
use std::path::Path;
use std::sync::atomic::Ordering;

pub struct LiveLink {
    session: LiveSession,
    /// The latest thing the session said (device lost, audio back, …).
    notice: String,
    /// The last warning written to the audio log, so each is written once.
    logged_warning: Option<String>,
}

impl LiveLink {
    pub fn new(session: LiveSession) -> LiveLink {
        LiveLink { session, notice: String::new(), logged_warning: None }
    }

    /// The session's warning, else its latest notice; in full.
    fn full_warning(&self) -> String {
        match (self.session.warning(), self.notice.is_empty()) {
            (Some(warning), _) => warning.to_string(),
            (None, false) => self.notice.clone(),
            (None, true) => String::new(),
        }
    }

    /// Give the session back (to stop it and print its report).
    pub fn into_session(self) -> LiveSession {
        self.session
    }
}

impl InstrumentLink for LiveLink {
    fn send(&mut self, command: Command) -> bool {
        self.session.send(command)
    }

    fn poll(&mut self) -> Option<EngineSnapshot> {
        let notice = &mut self.notice;
        self.session.tick(&mut |line: &str| *notice = line.trim_start_matches("ferrotape: ").to_string());
        // The screen shows a warning shortened; the log keeps it whole.
        let warning = self.full_warning();
        if !warning.is_empty() && self.logged_warning.as_ref() != Some(&warning) {
            let _ = crate::io::stderr::append_to_log(&format!("ferrotape: {warning}"));
            self.logged_warning = Some(warning);
        }
        self.session.latest_snapshot()
    }

    fn status(&self) -> LinkStatus {
        let stats = self.session.stats();
        let settings = self.session.settings();
        let take = match self.session.take_status() {
            Some(status) if status.recording => {
                let name = status
                    .folder
                    .as_ref()
                    .and_then(|f| f.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let seconds = status.seconds as u64;
                format!("● {:02}:{:02} {name}", seconds / 60, seconds % 60)
            }
            Some(status) if status.armed => "armed".to_string(),
            Some(_) => "off (t starts one)".to_string(),
            None => "off".to_string(),
        };
        let full = self.full_warning();
        let warning = without_parentheses(&full);
        let warning_details = if warning == full { String::new() } else { full };
        let (latency, source) = stats.record_latency();
        LinkStatus {
            backend: settings.devices.clone(),
            sample_rate: settings.sample_rate,
            buffer_frames: settings.block as u32,
            latency: format!(
                "latency {:.1} ms",
                f64::from(latency) * 1000.0 / f64::from(settings.sample_rate)
            ),
            latency_source: source.describe().to_string(),
            load_pct: stats.load_permille.load(Ordering::Relaxed) as f32 / 10.0,
            xruns: LiveStats::get(&stats.xruns),
            dropped_commands: LiveStats::get(&stats.dropped_commands),
            midi_ports: self.session.midi_ports(),
            last_midi: self.session.last_midi().unwrap_or_default(),
            surfaces: self.session.surface_status(),
            take,
            warning,
            warning_details,
            warning_log: Some(crate::io::stderr::log_path()),
        }
    }

    fn load(&mut self, path: &Path, _config: &EngineConfig) -> Result<(), String> {
        self.session.load(path)
    }

    fn learn(&mut self, target: LearnTarget) -> bool {
        let what = match target.what {
            LearnWhat::Action(action) => BindingTarget::Action(action),
            LearnWhat::Param(param) => BindingTarget::Param(param),
        };
        self.session.learn(LearnRequest {
            target: what,
            track: TrackTarget::Number(target.track + 1),
            mode: None,
        })
    }

    fn cancel_learn(&mut self) {
        self.session.cancel_learn();
    }

    fn poll_learned(&mut self) -> Option<String> {
        self.session.poll_learned()
    }

    fn patch_midi(&self) -> Option<Vec<toml::Table>> {
        Some(self.session.patch_midi().to_vec())
    }

    fn stop_requested(&self) -> bool {
        self.session.stop_requested()
    }

    fn select_track(&mut self, track: u8) {
        self.session.select_track(track);
    }

    fn selected_track(&self) -> Option<u8> {
        Some(self.session.selected_track().get())
    }

    fn toggle_take(&mut self) -> Option<bool> {
        Some(self.session.toggle_take())
    }

    fn save_tapes(&mut self, patch_path: &Path) -> Result<(), String> {
        self.session.save_tapes(patch_path)
    }
}

/// A message with its parenthesised details left out, for one line on the
/// screen: "no audio device (no audio output: … ; try --audio null): running
/// on the null backend" -> "no audio device: running on the null backend".
pub fn without_parentheses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' => {
                if depth == 0 {
                    out.truncate(out.trim_end().len());
                }
                depth += 1;
            }
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    // An unclosed "(" would have swallowed the rest: keep the text whole.
    if depth > 0 {
        return text.to_string();
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Play a patch live on the screen: open audio (falling back to the null
/// backend, with a warning on screen, when no device opens), MIDI, takes and
/// autosave; run until the performer quits; then finish the take and the
/// autosave. Returns how the run went, for one line after the screen closes.
pub fn play_on_screen(patch: &Path, options: LiveOptions) -> Result<PlayReport, String> {
    // alsa-lib and libjack write to stderr at any time (opening devices and
    // MIDI included); on the screen that would tear the picture, so it goes
    // to the audio log from before the session starts until the screen closes.
    let capture = StderrCapture::begin();
    let session = match LiveSession::start(patch, options, true) {
        Ok(session) => session,
        Err(e) => {
            drop(capture);
            return Err(e);
        }
    };
    let mut link = LiveLink::new(session);
    let result = super::run_interactive(Some(patch), &mut link);
    let report = link.into_session().stop();
    drop(capture);
    result.map(|()| report)
}

#[cfg(test)]
mod tests {
    use super::without_parentheses;

    #[test]
    fn details_in_parentheses_are_left_out_of_the_line() {
        let fallback = "no audio device (no audio output: alsa:default: The requested audio device is not \
            available. (devices: alsa:null, alsa:jack); try --audio null (no hardware), or `ferrotape devices`): \
            running on the null backend";
        assert_eq!(without_parentheses(fallback), "no audio device: running on the null backend");
        assert_eq!(without_parentheses("audio device lost: xrun storm"), "audio device lost: xrun storm");
        assert_eq!(without_parentheses("take: disk full (28 blocks dropped)"), "take: disk full");
        assert_eq!(without_parentheses("odd (unclosed"), "odd (unclosed");
    }
}
