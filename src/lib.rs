//! ferrotape: a tape-loop performance instrument.
//!
//! Module map:
//! - [`analysis`]: measuring rendered audio (pitch, level, period, distortion).
//! - [`engine`]: the pure, real-time-safe DSP core (tape, transport, colour,
//!   tracks, mixer). No I/O, no threads, no locks, no allocation in `process`.
//! - [`patch`]: the TOML patch format and its validation.
//! - [`events`]: timed-event files (scores and take logs).
//! - [`midi_map`]: MIDI bytes to commands: parser, bindings as data, map
//!   files, the router with MIDI learn. Pure, no I/O.
//! - [`osc`]: the OSC server (SooperLooper-compatible, plus a native namespace), a live surface.
//! - [`bridge`]: the queues between the audio, MIDI, screen and disk threads.
//! - [`io`]: thin adapters to hardware: audio backends (cpal, null), the
//!   callback wrapper, midir MIDI input.
//! - [`live`]: `ferrotape play` and `ferrotape devices`: the engine on real audio.
//! - [`check`]: `ferrotape check`, validating any of the project's files.
//! - [`render`]: the offline renderer behind `ferrotape render`.
//! - [`wav`]: reading and writing WAV files (with resampling on read).
//! - [`file_error`]: errors that name a file, a line and what is allowed.
//! - [`take`]: the take recorder (writer thread, crash-safe files, re-render).
//! - [`session`]: patches saved with their tapes, autosave and recovery.
//! - [`shutdown`]: flushing takes and autosaves on signals and panics.
//! - [`atomic_file`]: saving files so a failed save never destroys the old one.
//! - [`sync`]: MIDI clock in (a jitter filter onto the grid) and clock out
//!   (at exact frames, or from a timing thread).
//! - [`tui`]: the terminal screen, its keymap and the link it plays through.

pub mod analysis;
pub mod atomic_file;
pub mod bridge;
pub mod check;
pub mod engine;
pub mod events;
pub mod file_error;
pub mod io;
pub mod live;
pub mod midi_map;
pub mod osc;
pub mod patch;
pub mod render;
pub mod session;
pub mod shutdown;
pub mod sync;
pub mod take;
pub mod tui;
pub mod wav;
