//! The one place that creates the queues between threads.
//!
//! Every queue is a fixed-capacity single-producer single-consumer ring
//! created up front; a full queue drops the message and counts it.

use crate::engine::Command;
use std::time::Instant;

/// Where a producing thread (MIDI input, screen, event scheduler) puts
/// commands for the engine. Implementations never block.
pub trait CommandSink: Send {
    /// Queue a command that happened at `at` (monotonic clock). Returns
    /// false when the queue was full and the command was dropped (and counted).
    fn send(&mut self, command: Command, at: Instant) -> bool;
}
