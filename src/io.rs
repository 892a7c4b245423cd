//! Thin adapters between the engine and the outside world.

pub mod midi;
