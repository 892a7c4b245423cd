//! Files a take streams into, written so a killed process leaves them readable.
//!
//! WAV files are written under their final name (a temporary name would be
//! lost with the process) and their header is rewritten on every
//! [`StreamWav::flush`], so after a crash the file holds everything up to
//! the last flush. The control log is appended one whole `[[event]]` table
//! per write, so the file is valid TOML after every write.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use hound::{SampleFormat, WavSpec, WavWriter};

use crate::engine::Command;
use crate::events::{Event, EventList};

/// A 32-bit float WAV written as it grows. Samples are stored as they are
/// (no clamping), so what is read back is exactly what the engine produced.
pub(crate) struct StreamWav {
    writer: WavWriter<BufWriter<File>>,
    path: PathBuf,
    channels: usize,
}

impl StreamWav {
    pub(crate) fn create(path: &Path, channels: u16, sample_rate: u32) -> Result<StreamWav, String> {
        let spec = WavSpec { channels, sample_rate, bits_per_sample: 32, sample_format: SampleFormat::Float };
        let mut writer = WavWriter::create(path, spec).map_err(|e| write_error(path, e))?;
        // The header on disk at once: a file that exists is a readable WAV,
        // even if the process dies before the first flush.
        writer.flush().map_err(|e| write_error(path, e))?;
        Ok(StreamWav { writer, path: path.to_path_buf(), channels: channels as usize })
    }

    /// Append frames, one slice per channel (equal lengths), interleaving them.
    pub(crate) fn write(&mut self, channels: &[&[f32]]) -> Result<(), String> {
        let frames = channels.iter().map(|c| c.len()).min().unwrap_or(0);
        for i in 0..frames {
            for channel in channels.iter().take(self.channels) {
                self.writer.write_sample(channel[i]).map_err(|e| write_error(&self.path, e))?;
            }
        }
        Ok(())
    }

    /// Append `frames` frames of silence (audio the writer never received).
    pub(crate) fn write_silence(&mut self, frames: u64) -> Result<(), String> {
        for _ in 0..frames * self.channels as u64 {
            self.writer.write_sample(0.0f32).map_err(|e| write_error(&self.path, e))?;
        }
        Ok(())
    }

    /// Write buffered samples and a header that covers them.
    pub(crate) fn flush(&mut self) -> Result<(), String> {
        self.writer.flush().map_err(|e| write_error(&self.path, e))
    }

    /// Final header; the file is complete.
    pub(crate) fn close(self) -> Result<(), String> {
        let path = self.path;
        self.writer.finalize().map_err(|e| write_error(&path, e))
    }
}

fn write_error(path: &Path, e: hound::Error) -> String {
    match e {
        hound::Error::IoError(io) => format!("cannot write {}: {io}", path.display()),
        other => format!("cannot write {}: {other}", path.display()),
    }
}

/// The control log, appended in the events-file format as commands arrive.
pub(crate) struct EventLog {
    file: File,
    path: PathBuf,
    sample_rate: f64,
    /// Engine frame that is `at = 0` in this file.
    origin: u64,
    /// Whether a table has been written (tables are separated by a blank line).
    started: bool,
}

impl EventLog {
    pub(crate) fn create(path: &Path, sample_rate: u32, origin: u64) -> Result<EventLog, String> {
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let header = "# Control log: `ferrotape render` reads this as an events file.\n";
        file.write_all(header.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(EventLog {
            file,
            path: path.to_path_buf(),
            sample_rate: sample_rate as f64,
            origin,
            started: false,
        })
    }

    /// Append one command that happened at engine frame `frame` (not before
    /// the origin). One `write` per event keeps the file whole if the
    /// process dies between two of them.
    pub(crate) fn append(&mut self, frame: u64, command: Command) -> Result<(), String> {
        // Seconds, so that `round(at * sample_rate)` gives the frame back.
        let at = frame.saturating_sub(self.origin) as f64 / self.sample_rate;
        let mut text = EventList::new(&self.path, vec![Event::new(at, command)]).to_toml();
        if self.started {
            text.insert(0, '\n');
        }
        self.started = true;
        self.file.write_all(text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", self.path.display()))
    }

    /// Append a comment about engine frame `frame` ("# at = 1.951: …"):
    /// what happened there without being a command to replay.
    pub(crate) fn append_note(&mut self, frame: u64, note: &str) -> Result<(), String> {
        let at = frame.saturating_sub(self.origin) as f64 / self.sample_rate;
        let text = format!("# at = {}: {note}\n", crate::patch::reader::float_f64(at));
        self.file.write_all(text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", self.path.display()))
    }

    /// Push the log to the disk (called with the WAV flushes).
    pub(crate) fn sync(&mut self) -> Result<(), String> {
        self.file.sync_data().map_err(|e| format!("cannot write {}: {e}", self.path.display()))
    }
}
