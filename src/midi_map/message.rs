//! MIDI wire bytes to channel messages: a byte-at-a-time state machine.
//!
//! Fed whatever a port delivers (whole messages, fragments, several messages
//! at once), it handles running status, treats note-on with velocity 0 as
//! note-off, skips real-time bytes even in the middle of a message, skips
//! system-exclusive data of any length without buffering it, and drops stray
//! data bytes. It never allocates and never panics.

/// One channel message. Channels are 0-based here (0 = MIDI channel 1);
/// files and screens show them 1-based. Data values are 0-127 unless noted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MidiMessage {
    /// A key released. Note-on with velocity 0 arrives as this, velocity 0.
    NoteOff {
        channel: u8,
        note: u8,
        velocity: u8,
    },
    /// A key pressed; velocity is always 1-127.
    NoteOn {
        channel: u8,
        note: u8,
        velocity: u8,
    },
    /// Polyphonic aftertouch on one key.
    PolyPressure {
        channel: u8,
        note: u8,
        pressure: u8,
    },
    ControlChange {
        channel: u8,
        controller: u8,
        value: u8,
    },
    ProgramChange {
        channel: u8,
        program: u8,
    },
    /// Channel aftertouch.
    ChannelPressure {
        channel: u8,
        pressure: u8,
    },
    /// 14-bit bend, 0-16383; 8192 is the centre.
    PitchBend {
        channel: u8,
        value: u16,
    },
}

impl MidiMessage {
    /// The 0-based channel (0-15).
    pub fn channel(&self) -> u8 {
        match *self {
            MidiMessage::NoteOff { channel, .. }
            | MidiMessage::NoteOn { channel, .. }
            | MidiMessage::PolyPressure { channel, .. }
            | MidiMessage::ControlChange { channel, .. }
            | MidiMessage::ProgramChange { channel, .. }
            | MidiMessage::ChannelPressure { channel, .. }
            | MidiMessage::PitchBend { channel, .. } => channel,
        }
    }

    /// The message as wire bytes (full status byte, no running status):
    /// the length and a 3-byte buffer. Used by tests and by senders.
    pub fn to_bytes(&self) -> ([u8; 3], usize) {
        let status = |kind: u8, channel: u8| kind | (channel & 0x0F);
        match *self {
            MidiMessage::NoteOff { channel, note, velocity } => {
                ([status(0x80, channel), note & 0x7F, velocity & 0x7F], 3)
            }
            MidiMessage::NoteOn { channel, note, velocity } => {
                ([status(0x90, channel), note & 0x7F, velocity & 0x7F], 3)
            }
            MidiMessage::PolyPressure { channel, note, pressure } => {
                ([status(0xA0, channel), note & 0x7F, pressure & 0x7F], 3)
            }
            MidiMessage::ControlChange { channel, controller, value } => {
                ([status(0xB0, channel), controller & 0x7F, value & 0x7F], 3)
            }
            MidiMessage::ProgramChange { channel, program } => {
                ([status(0xC0, channel), program & 0x7F, 0], 2)
            }
            MidiMessage::ChannelPressure { channel, pressure } => {
                ([status(0xD0, channel), pressure & 0x7F, 0], 2)
            }
            MidiMessage::PitchBend { channel, value } => {
                ([status(0xE0, channel), (value & 0x7F) as u8, ((value >> 7) & 0x7F) as u8], 3)
            }
        }
    }
}

/// What the parser is in the middle of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// No status yet (or it was cancelled): data bytes are stray and dropped.
    Idle,
    /// Collecting the data bytes of a channel message whose status is
    /// `status`; `have` of `need` bytes are in `data`. `status` also serves
    /// as the running status once the message completes.
    Channel { status: u8, have: u8 },
    /// Inside system exclusive: every data byte is skipped until F7 or any
    /// other status byte ends it.
    SysEx,
    /// Skipping `left` data bytes of a system common message (MTC quarter
    /// frame, song position, song select), which cancels running status.
    SkipCommon { left: u8 },
}

/// A MIDI byte-stream parser. One per input port: running status belongs
/// to the stream it came from.
#[derive(Clone, Debug)]
pub struct MidiParser {
    state: State,
    data: [u8; 2],
}

impl Default for MidiParser {
    fn default() -> Self {
        MidiParser::new()
    }
}

impl MidiParser {
    pub const fn new() -> MidiParser {
        MidiParser { state: State::Idle, data: [0; 2] }
    }

    /// Forget any half-received message and running status (e.g. after a
    /// port was reopened).
    pub fn reset(&mut self) {
        self.state = State::Idle;
    }

    /// Feed one byte; returns a message when this byte completes one.
    pub fn push(&mut self, byte: u8) -> Option<MidiMessage> {
        if byte >= 0xF8 {
            // Real-time (clock, start, continue, stop, active sensing, reset)
            // may appear anywhere, even between a message's data bytes, and
            // must not disturb the message being received.
            return None;
        }
        if byte >= 0x80 {
            self.state = match byte {
                0xF0 => State::SysEx,
                // MTC quarter frame and song select carry one data byte,
                // song position two; tune request, EOX and the undefined
                // F4/F5 none. All of them cancel running status.
                0xF1 | 0xF3 => State::SkipCommon { left: 1 },
                0xF2 => State::SkipCommon { left: 2 },
                0xF4..=0xF7 => State::Idle,
                _ => State::Channel { status: byte, have: 0 },
            };
            return None;
        }
        match self.state {
            State::Idle | State::SysEx => None,
            State::SkipCommon { left } => {
                self.state = if left <= 1 { State::Idle } else { State::SkipCommon { left: left - 1 } };
                None
            }
            State::Channel { status, have } => {
                let need = data_bytes(status);
                self.data[usize::from(have.min(1))] = byte;
                let have = have + 1;
                if have < need {
                    self.state = State::Channel { status, have };
                    return None;
                }
                // Complete: stay on this status for running-status data.
                self.state = State::Channel { status, have: 0 };
                Some(decode(status, self.data))
            }
        }
    }

    /// Feed a run of bytes, handing each completed message to `emit`.
    pub fn push_all(&mut self, bytes: &[u8], mut emit: impl FnMut(MidiMessage)) {
        for &byte in bytes {
            if let Some(message) = self.push(byte) {
                emit(message);
            }
        }
    }
}

/// Data bytes that follow a channel status byte.
fn data_bytes(status: u8) -> u8 {
    match status & 0xF0 {
        0xC0 | 0xD0 => 1,
        _ => 2,
    }
}

fn decode(status: u8, data: [u8; 2]) -> MidiMessage {
    let channel = status & 0x0F;
    let [a, b] = data;
    match status & 0xF0 {
        0x80 => MidiMessage::NoteOff { channel, note: a, velocity: b },
        0x90 if b == 0 => MidiMessage::NoteOff { channel, note: a, velocity: 0 },
        0x90 => MidiMessage::NoteOn { channel, note: a, velocity: b },
        0xA0 => MidiMessage::PolyPressure { channel, note: a, pressure: b },
        0xB0 => MidiMessage::ControlChange { channel, controller: a, value: b },
        0xC0 => MidiMessage::ProgramChange { channel, program: a },
        0xD0 => MidiMessage::ChannelPressure { channel, pressure: a },
        _ => MidiMessage::PitchBend { channel, value: u16::from(a) | (u16::from(b) << 7) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Vec<MidiMessage> {
        let mut parser = MidiParser::new();
        let mut out = Vec::new();
        parser.push_all(bytes, |m| out.push(m));
        out
    }

    fn cc(channel: u8, controller: u8, value: u8) -> MidiMessage {
        MidiMessage::ControlChange { channel, controller, value }
    }

    #[test]
    fn complete_messages_of_every_kind() {
        let bytes =
            [0x90, 60, 100, 0x80, 60, 10, 0xA1, 61, 5, 0xB2, 7, 127, 0xC3, 9, 0xD4, 33, 0xE5, 0x00, 0x40];
        assert_eq!(
            parse(&bytes),
            vec![
                MidiMessage::NoteOn { channel: 0, note: 60, velocity: 100 },
                MidiMessage::NoteOff { channel: 0, note: 60, velocity: 10 },
                MidiMessage::PolyPressure { channel: 1, note: 61, pressure: 5 },
                cc(2, 7, 127),
                MidiMessage::ProgramChange { channel: 3, program: 9 },
                MidiMessage::ChannelPressure { channel: 4, pressure: 33 },
                MidiMessage::PitchBend { channel: 5, value: 8192 },
            ]
        );
    }

    #[test]
    fn running_status_repeats_the_last_channel_status() {
        assert_eq!(parse(&[0xB0, 1, 10, 2, 20, 3, 30]), vec![cc(0, 1, 10), cc(0, 2, 20), cc(0, 3, 30)]);
        // One-data-byte messages too.
        assert_eq!(
            parse(&[0xC1, 4, 5]),
            vec![
                MidiMessage::ProgramChange { channel: 1, program: 4 },
                MidiMessage::ProgramChange { channel: 1, program: 5 }
            ]
        );
    }

    #[test]
    fn note_on_with_velocity_zero_is_note_off() {
        assert_eq!(
            parse(&[0x93, 36, 90, 36, 0]),
            vec![
                MidiMessage::NoteOn { channel: 3, note: 36, velocity: 90 },
                MidiMessage::NoteOff { channel: 3, note: 36, velocity: 0 }
            ]
        );
    }

    #[test]
    fn realtime_bytes_are_ignored_even_inside_a_message() {
        assert_eq!(
            parse(&[0xF8, 0xB0, 0xF8, 7, 0xFA, 100, 0xFE, 8, 0xFC, 50, 0xFF]),
            vec![cc(0, 7, 100), cc(0, 8, 50)]
        );
    }

    #[test]
    fn sysex_of_any_length_is_skipped() {
        let mut bytes = vec![0xB0, 1, 1, 0xF0];
        bytes.extend(std::iter::repeat_n(0x42, 10_000));
        bytes.extend([0xF8, 0x10, 0xF7, 0xB0, 2, 2]);
        assert_eq!(parse(&bytes), vec![cc(0, 1, 1), cc(0, 2, 2)]);
        // Sysex cancels running status: data after the EOX is stray.
        assert_eq!(parse(&[0xB0, 1, 1, 0xF0, 1, 0xF7, 5, 6]), vec![cc(0, 1, 1)]);
        // An unterminated sysex is ended by the next status byte.
        assert_eq!(
            parse(&[0xF0, 1, 2, 3, 0x90, 60, 1]),
            vec![MidiMessage::NoteOn { channel: 0, note: 60, velocity: 1 }]
        );
    }

    #[test]
    fn stray_data_and_system_common_are_dropped() {
        // Data with no status yet, then MTC quarter frame and song position
        // (their data is not mistaken for a running-status message).
        assert_eq!(
            parse(&[1, 2, 3, 0xB0, 1, 1, 0xF1, 9, 5, 6, 0xF2, 1, 2, 0xB0, 4, 4]),
            vec![cc(0, 1, 1), cc(0, 4, 4)]
        );
        // A new status in the middle of a message abandons the old one.
        assert_eq!(parse(&[0x90, 60, 0xB0, 5, 5]), vec![cc(0, 5, 5)]);
    }

    #[test]
    fn fragments_across_calls_join_up() {
        let mut parser = MidiParser::new();
        assert_eq!(parser.push(0xB0), None);
        assert_eq!(parser.push(7), None);
        assert_eq!(parser.push(64), Some(cc(0, 7, 64)));
    }

    #[test]
    fn to_bytes_round_trips() {
        let messages = [
            MidiMessage::NoteOn { channel: 15, note: 127, velocity: 1 },
            MidiMessage::NoteOff { channel: 0, note: 0, velocity: 0 },
            cc(9, 64, 0),
            MidiMessage::ProgramChange { channel: 2, program: 3 },
            MidiMessage::ChannelPressure { channel: 2, pressure: 3 },
            MidiMessage::PitchBend { channel: 1, value: 16383 },
        ];
        for message in messages {
            let (bytes, len) = message.to_bytes();
            assert_eq!(parse(&bytes[..len]), vec![message]);
        }
    }
}
