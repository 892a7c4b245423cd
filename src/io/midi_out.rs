//! MIDI going out: [`MidiOut`], the fixed-capacity list of one cycle's
//! events (frame offset and bytes) the processor fills and the native JACK
//! backend writes to its `midi_out` port, and [`MidiOutSender`], the
//! control side's queue for raw messages (LED feedback and the like),
//! drained at frame 0 of every cycle.
//!
//! Nothing here allocates after construction: the list's events and bytes
//! live in buffers sized up front, the queue is a `ringbuf` SPSC ring
//! created by the bridge.

use crate::bridge::LiveStats;
use ringbuf::traits::Producer;
use ringbuf::HeapProd;
use std::sync::Arc;

/// Events one cycle's list holds.
pub const MIDI_OUT_EVENTS: usize = 512;
/// Bytes one cycle's list holds, over all its events.
pub const MIDI_OUT_BYTES: usize = 4096;
/// Longest message the control-side queue carries (a short sysex for a
/// controller's LEDs fits; longer ones are refused).
pub const MIDI_PACKET_BYTES: usize = 32;

/// One event of the list: where its bytes are in the byte buffer.
#[derive(Clone, Copy, Debug, Default)]
struct Event {
    offset: u32,
    start: u32,
    len: u32,
}

/// One cycle's MIDI output: `(frame offset, bytes)` events, in a fixed
/// capacity. See the module docs.
pub struct MidiOut {
    events: Vec<Event>,
    bytes: Vec<u8>,
    /// Events refused since the last [`MidiOut::take_dropped`].
    dropped: u64,
}

impl Default for MidiOut {
    fn default() -> Self {
        MidiOut::new(MIDI_OUT_EVENTS, MIDI_OUT_BYTES)
    }
}

impl MidiOut {
    /// A list for `events` events of `bytes` bytes in all (allocates).
    pub fn new(events: usize, bytes: usize) -> MidiOut {
        MidiOut { events: Vec::with_capacity(events), bytes: Vec::with_capacity(bytes), dropped: 0 }
    }

    /// Add an event at `offset` frames into the cycle. False (and counted)
    /// when the list is full or `bytes` is empty. Never allocates.
    pub fn push(&mut self, offset: u32, bytes: &[u8]) -> bool {
        let fits = !bytes.is_empty()
            && self.events.len() < self.events.capacity()
            && self.bytes.len() + bytes.len() <= self.bytes.capacity();
        if !fits {
            self.dropped += 1;
            return false;
        }
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(bytes);
        self.events.push(Event { offset, start, len: bytes.len() as u32 });
        true
    }

    /// Empty the list (the start of a cycle).
    pub fn clear(&mut self) {
        self.events.clear();
        self.bytes.clear();
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Put the events in frame order, keeping the order of events at one
    /// frame (a stable insertion sort: small lists, no allocation).
    pub fn sort(&mut self) {
        for i in 1..self.events.len() {
            let mut j = i;
            while j > 0 && self.events[j - 1].offset > self.events[j].offset {
                self.events.swap(j - 1, j);
                j -= 1;
            }
        }
    }

    /// The events, in the list's order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &[u8])> + '_ {
        self.events.iter().map(|e| (e.offset, &self.bytes[e.start as usize..(e.start + e.len) as usize]))
    }

    /// Events refused since the last call.
    pub fn take_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.dropped)
    }

    /// Count an event lost on the way out (the port's buffer was full).
    pub fn count_dropped(&mut self, n: u64) {
        self.dropped += n;
    }
}

/// One raw message on the control-side queue.
#[derive(Clone, Copy, Debug)]
pub struct MidiPacket {
    len: u8,
    bytes: [u8; MIDI_PACKET_BYTES],
}

impl MidiPacket {
    /// A packet of `bytes`, if it fits in [`MIDI_PACKET_BYTES`] and is not empty.
    pub fn new(bytes: &[u8]) -> Option<MidiPacket> {
        if bytes.is_empty() || bytes.len() > MIDI_PACKET_BYTES {
            return None;
        }
        let mut packet = MidiPacket { len: bytes.len() as u8, bytes: [0; MIDI_PACKET_BYTES] };
        packet.bytes[..bytes.len()].copy_from_slice(bytes);
        Some(packet)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

/// The control side's end of the MIDI out queue: raw messages for the
/// `midi_out` port, sent at frame 0 of the next cycle. One producer; a
/// component that sends feedback takes it from the run's set-up.
pub struct MidiOutSender {
    pub(crate) ring: HeapProd<MidiPacket>,
    pub(crate) stats: Arc<LiveStats>,
}

impl MidiOutSender {
    /// Queue one message. False (and counted) when it is empty, longer than
    /// [`MIDI_PACKET_BYTES`] or the queue is full. Never blocks.
    pub fn send(&mut self, bytes: &[u8]) -> bool {
        let sent = MidiPacket::new(bytes).is_some_and(|packet| self.ring.try_push(packet).is_ok());
        if !sent {
            LiveStats::add(&self.stats.midi_out_dropped, 1);
        }
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_list_refuses_and_counts_and_sorting_keeps_order_at_one_frame() {
        let mut out = MidiOut::new(3, 8);
        assert!(out.push(10, &[0x90, 60, 100]));
        assert!(out.push(0, &[0xF8]));
        assert!(out.push(10, &[0x80, 60]));
        assert!(!out.push(1, &[0xF8]), "no event left");
        assert_eq!(out.take_dropped(), 1);
        out.sort();
        let events: Vec<(u32, Vec<u8>)> = out.iter().map(|(o, b)| (o, b.to_vec())).collect();
        assert_eq!(events, [(0, vec![0xF8]), (10, vec![0x90, 60, 100]), (10, vec![0x80, 60])]);
        out.clear();
        assert!(out.is_empty());
        assert!(!MidiOut::new(4, 2).push(0, &[1, 2, 3]), "no bytes left");
    }
}
