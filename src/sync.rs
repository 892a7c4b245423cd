//! Following and sending time: the JACK transport, MIDI clock in and out.

pub mod transport;
