//! Following and sending time: MIDI clock in and out, the JACK transport.
//! Each turns an outside clock into grid commands, or the grid into clock.
//!
//! - [`clock_in`]: the clock messages, their parser, and [`ClockFollower`],
//!   which filters a jittery clock into [`GridCommand::Position`]s.
//! - [`clock_out`]: [`ClockOut`], the grid as clock bytes at exact frames
//!   (for a callback that knows frames, such as JACK's).
//! - [`clock_thread`]: clock out on a timing thread of its own, for MIDI
//!   systems that take bytes at a wall-clock moment (ALSA, CoreMIDI).
//! - [`transport`]: the JACK transport's start, stop, relocate and tempo.
//!
//! The measured accuracy is in `docs/sync.md`.
//!
//! [`GridCommand::Position`]: crate::engine::grid::GridCommand::Position

pub mod clock_in;
pub mod clock_out;
pub mod clock_thread;
pub mod transport;

pub use clock_in::{ClockFollower, ClockMessage, ClockParser};
pub use clock_out::ClockOut;
pub use clock_thread::{ClockFeed, ClockPlan, ClockSink, ClockThread};
