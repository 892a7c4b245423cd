//! MIDI clock in: the clock's messages, and a follower that filters a
//! jittery clock onto the grid.
//!
//! A MIDI clock is 24 ticks a beat, each arriving with the jitter of its
//! transport (a USB interface adds about ±1 ms). [`ClockFollower`] fits a
//! straight line, frame = a + b × tick, by least squares through the last
//! [`WINDOW`] ticks: the slope is the tick period, and the line gives the
//! clock's position at any frame with the jitter averaged away. Tick numbers
//! come from the line itself (a tick that arrives two periods after the last
//! is the one after next), so a dropped tick costs nothing and the count
//! never drifts from the master's. A tick far off the line is held back as
//! a suspect: a lone one is dropped (garbage), three in a row that agree
//! with each other are a tempo change or a jump, and the fit restarts from
//! them. The measured accuracy is in `docs/sync.md`.
//!
//! No allocation, no system calls: [`ClockFollower::feed`] runs inside the
//! JACK process callback.

use crate::engine::grid::{GridCommand, CLOCK_PPQ};

/// Clock ticks per sixteenth note, the unit of song position.
pub const TICKS_PER_SIXTEENTH: i64 = 6;
/// Ticks the line is fitted through: two bars of 4/4.
pub const WINDOW: usize = 192;
/// Ticks accepted without question after a start or a restart of the fit
/// (the line is too young to judge them).
const WARM_UP: usize = 8;
/// Ticks off the line, in a row and agreeing, that restart the fit.
const CHANGE_RUN: usize = 3;
/// Intervals between suspects agree when each is within this fraction of their mean.
const CHANGE_AGREEMENT: f64 = 0.35;
/// A tick closer to the last than this many periods is not a tick of this clock.
const SPURIOUS_RATIO: f64 = 0.35;
/// Ticks off the line by less than this are always accepted, seconds.
const MIN_THRESHOLD_S: f64 = 0.0015;
/// Ticks off the line by more than this many RMS residuals are suspects.
const THRESHOLD_RMS: f64 = 4.0;
/// Ticks on the line before the follower calls itself locked.
const LOCK_TICKS: usize = 12;
/// A running clock silent for this many beats is lost: the grid stops.
pub const LOST_BEATS: f64 = 2.0;
/// The tick period assumed before any clock was heard: 120 BPM.
const DEFAULT_BPM: f64 = 120.0;

/// One MIDI clock message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockMessage {
    /// Timing clock, 0xF8: 24 a beat.
    Tick,
    /// 0xFA: play from the start; the next tick is beat 0 (bar 1, beat 1).
    Start,
    /// 0xFB: play on from the song position.
    Continue,
    /// 0xFC.
    Stop,
    /// 0xF2 lsb msb: the song position in sixteenths (6 ticks each), for the next Continue.
    SongPosition(u16),
}

impl ClockMessage {
    /// The message as wire bytes: a buffer and its length.
    pub fn to_bytes(self) -> ([u8; 3], usize) {
        match self {
            ClockMessage::Tick => ([0xF8, 0, 0], 1),
            ClockMessage::Start => ([0xFA, 0, 0], 1),
            ClockMessage::Continue => ([0xFB, 0, 0], 1),
            ClockMessage::Stop => ([0xFC, 0, 0], 1),
            ClockMessage::SongPosition(sixteenths) => {
                ([0xF2, (sixteenths & 0x7F) as u8, ((sixteenths >> 7) & 0x7F) as u8], 3)
            }
        }
    }
}

/// Clock messages from a byte stream. Real-time bytes may come between the
/// bytes of any other message (a song position included) without disturbing
/// it; any other status byte abandons a half-received song position. The
/// channel-message parser ([`crate::midi_map::MidiParser`]) skips all of
/// these, so one stream can be fed to both.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClockParser {
    /// Inside a song position: `None` waiting for the lsb, `Some(lsb)` for the msb.
    song_position: Option<Option<u8>>,
}

impl ClockParser {
    pub const fn new() -> ClockParser {
        ClockParser { song_position: None }
    }

    /// Feed one byte; returns a message when this byte completes one.
    pub fn push(&mut self, byte: u8) -> Option<ClockMessage> {
        match byte {
            0xF8 => Some(ClockMessage::Tick),
            0xFA => Some(ClockMessage::Start),
            0xFB => Some(ClockMessage::Continue),
            0xFC => Some(ClockMessage::Stop),
            // Other real-time bytes (active sensing, reset, undefined).
            0xF9 | 0xFD..=0xFF => None,
            0xF2 => {
                self.song_position = Some(None);
                None
            }
            0x80..=0xF7 => {
                self.song_position = None;
                None
            }
            data => match self.song_position {
                Some(None) => {
                    self.song_position = Some(Some(data));
                    None
                }
                Some(Some(lsb)) => {
                    self.song_position = None;
                    Some(ClockMessage::SongPosition(u16::from(lsb) | (u16::from(data) << 7)))
                }
                None => None,
            },
        }
    }
}

/// Where the followed clock's transport is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    /// Stopped (ticks, if the master sends them, still measure the tempo).
    Stopped,
    /// Start or Continue heard: the next tick starts the grid.
    Armed,
    Running,
}

/// A tick: its number since Start, and its frame.
type Point = (i64, f64);

/// The fitted line: frame = `mean_frame` + `period` × (tick − `mean_tick`).
#[derive(Clone, Copy, Debug)]
struct Line {
    mean_tick: f64,
    mean_frame: f64,
    /// Frames per tick.
    period: f64,
}

impl Line {
    fn frame(&self, tick: f64) -> f64 {
        self.mean_frame + self.period * (tick - self.mean_tick)
    }

    fn tick(&self, frame: f64) -> f64 {
        self.mean_tick + (frame - self.mean_frame) / self.period
    }
}

/// Follows a MIDI clock. See the module docs. Fixed size; never allocates.
#[derive(Clone, Debug)]
pub struct ClockFollower {
    sample_rate: f64,
    transport: Transport,
    /// The tick number the first tick after Start or Continue takes.
    resume_tick: i64,
    /// The last [`WINDOW`] accepted ticks, a ring; `len` of them are valid.
    points: [Point; WINDOW],
    head: usize,
    len: usize,
    line: Line,
    /// The last accepted tick.
    last: Point,
    /// Ticks off the line, waiting to be judged.
    suspects: [Point; CHANGE_RUN],
    suspect_len: usize,
    /// The last tick seen, accepted or not (frame).
    last_seen: f64,
    /// Mean square distance of accepted ticks from the line, frames².
    noise: f64,
    /// Accepted ticks since the grid was (re)started or the fit restarted.
    since_sync: u32,
    /// Ticks thrown away as not belonging to the clock.
    ignored: u64,
    /// Times the fit restarted on a tempo change or jump.
    restarts: u64,
    /// The running clock fell silent ([`ClockFollower::check`]): its next
    /// tick resumes the grid where the clock would be by then.
    lost: bool,
}

impl ClockFollower {
    /// A follower for frames at `sample_rate` (which sets its thresholds and
    /// turns periods into BPM).
    pub fn new(sample_rate: f64) -> ClockFollower {
        let period = 60.0 * sample_rate / DEFAULT_BPM / f64::from(CLOCK_PPQ);
        ClockFollower {
            sample_rate,
            transport: Transport::Stopped,
            resume_tick: 0,
            points: [(0, 0.0); WINDOW],
            head: 0,
            len: 0,
            line: Line { mean_tick: 0.0, mean_frame: 0.0, period },
            last: (0, 0.0),
            suspects: [(0, 0.0); CHANGE_RUN],
            suspect_len: 0,
            last_seen: f64::NEG_INFINITY,
            noise: 0.0,
            since_sync: 0,
            ignored: 0,
            restarts: 0,
            lost: false,
        }
    }

    /// One message at `frame` (on any consistent timeline at the sample
    /// rate). Returns what the grid should do: a position at Start (at the
    /// first tick after it), after Continue, a few times while the fit
    /// settles and then once a beat; a stop at Stop.
    pub fn feed(&mut self, frame: f64, message: ClockMessage) -> Option<GridCommand> {
        if !frame.is_finite() {
            return None;
        }
        match message {
            ClockMessage::Start => {
                self.lost = false;
                self.resume_tick = 0;
                self.arm();
                None
            }
            ClockMessage::Continue => {
                self.lost = false;
                self.arm();
                None
            }
            ClockMessage::SongPosition(sixteenths) => {
                if self.transport != Transport::Running {
                    self.resume_tick = i64::from(sixteenths) * TICKS_PER_SIXTEENTH;
                }
                None
            }
            ClockMessage::Stop => {
                self.lost = false;
                let was = self.transport;
                self.transport = Transport::Stopped;
                if was == Transport::Running {
                    // A Continue picks up at the tick that would have come next.
                    self.resume_tick = self.last.0 + 1;
                    Some(GridCommand::Stop)
                } else {
                    None
                }
            }
            ClockMessage::Tick => self.tick(frame),
        }
    }

    /// Look for a clock that went silent: a running clock with no tick for
    /// [`LOST_BEATS`] beats (a cable pulled, a master that quit without a
    /// Stop) stops the grid. Its next tick, if it comes back, resumes the
    /// grid at the tick the clock would be at by then. Call it now and then
    /// (each JACK cycle, or every few hundred milliseconds).
    pub fn check(&mut self, frame: f64) -> Option<GridCommand> {
        let silence = frame - self.last_seen;
        let limit = LOST_BEATS * f64::from(CLOCK_PPQ) * self.line.period;
        if self.transport != Transport::Running || silence.is_nan() || silence <= limit {
            return None;
        }
        self.transport = Transport::Stopped;
        self.lost = true;
        Some(GridCommand::Stop)
    }

    /// The filtered tempo, BPM; `None` before two ticks were heard.
    pub fn tempo_bpm(&self) -> Option<f64> {
        (self.len >= 2).then(|| 60.0 * self.sample_rate / (self.line.period * f64::from(CLOCK_PPQ)))
    }

    /// Whether a running clock is followed and its ticks sit on the line.
    pub fn locked(&self) -> bool {
        self.transport == Transport::Running && self.len >= LOCK_TICKS && self.suspect_len == 0
    }

    /// Whether the clock's transport runs (between Start/Continue and Stop).
    pub fn running(&self) -> bool {
        self.transport != Transport::Stopped
    }

    /// The clock's filtered position at `frame`, in beats since Start.
    pub fn beat_at(&self, frame: f64) -> f64 {
        self.line.tick(frame) / f64::from(CLOCK_PPQ)
    }

    /// Ticks thrown away as not belonging to the clock.
    pub fn ignored_ticks(&self) -> u64 {
        self.ignored
    }

    /// Times the fit restarted on a tempo change or a jump.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// Start or Continue: the next tick starts the grid at `resume_tick`.
    fn arm(&mut self) {
        self.transport = Transport::Armed;
    }

    fn tick(&mut self, frame: f64) -> Option<GridCommand> {
        if self.lost {
            // Back after a silence: where the clock would be by now.
            self.lost = false;
            let steps = ((frame - self.last.1) / self.line.period).round().max(1.0);
            self.resume_tick = self.last.0 + steps as i64;
            self.transport = Transport::Armed;
        }
        if self.transport == Transport::Armed {
            // The first tick of a run: the fit starts afresh (a master may
            // restart its clock's phase at Start), keeping the period it
            // measured while stopped, if any.
            self.transport = Transport::Running;
            self.clear();
            self.accept((self.resume_tick, frame));
            self.since_sync = 1;
            self.last_seen = frame;
            return Some(self.position(frame));
        }
        let accepted = self.track(frame)?;
        if self.transport != Transport::Running {
            return None;
        }
        self.since_sync = self.since_sync.saturating_add(1);
        let early = matches!(self.since_sync, 3 | 6 | 12);
        let on_beat = accepted.rem_euclid(i64::from(CLOCK_PPQ)) == 0;
        (early || on_beat).then(|| self.position(frame))
    }

    /// Judge a tick: the number it gets if it was accepted.
    fn track(&mut self, frame: f64) -> Option<i64> {
        let previous = self.last_seen;
        self.last_seen = frame;
        if self.len == 0 {
            self.accept((0, frame));
            return Some(0);
        }
        let period = self.line.period;
        // With one tick heard the period is only a guess: count one by one.
        let measured = self.len >= 2;
        if measured && (frame - previous) / period < SPURIOUS_RATIO {
            self.ignored += 1;
            return None;
        }
        let steps = if measured { ((frame - self.last.1) / period).round().max(1.0) as i64 } else { 1 };
        let tick = self.last.0 + steps;
        let residual = frame - self.line.frame(tick as f64);
        let threshold = (THRESHOLD_RMS * self.noise.sqrt()).max(MIN_THRESHOLD_S * self.sample_rate);
        if self.len < WARM_UP || residual.abs() <= threshold {
            if self.len >= WARM_UP {
                self.noise += (residual * residual - self.noise) / 32.0;
            }
            self.suspect_len = 0;
            self.accept((tick, frame));
            return Some(tick);
        }
        // Off the line: number it from the suspect before, if any.
        let tick = match self.suspect_len {
            0 => tick,
            n => {
                let (before, at) = self.suspects[n - 1];
                before + ((frame - at) / period).round().max(1.0) as i64
            }
        };
        self.suspects[self.suspect_len] = (tick, frame);
        self.suspect_len += 1;
        if self.suspect_len < CHANGE_RUN {
            return None;
        }
        if !self.suspects_agree() {
            // Not one new line: drop the oldest and wait for more.
            self.suspects.copy_within(1.., 0);
            self.suspect_len -= 1;
            return None;
        }
        // A tempo change or a jump: refit from the suspects, and from the
        // last accepted tick if it lies on their line (the tick where the
        // tempo changed belongs to both).
        let suspects = self.suspects;
        let last = self.last;
        let mean = self.suspect_interval();
        let keep_last = {
            let (first_tick, first_frame) = suspects[0];
            let steps = (first_tick - last.0).max(1) as f64;
            ((first_frame - last.1) / steps - mean).abs() <= CHANGE_AGREEMENT * mean
        };
        self.clear();
        self.line.period = mean;
        if keep_last {
            self.accept(last);
        }
        for point in suspects {
            self.accept(point);
        }
        self.restarts += 1;
        self.since_sync = 0;
        Some(suspects[CHANGE_RUN - 1].0)
    }

    /// Mean frames per tick between the suspects.
    fn suspect_interval(&self) -> f64 {
        let (first, last) = (self.suspects[0], self.suspects[CHANGE_RUN - 1]);
        (last.1 - first.1) / (last.0 - first.0).max(1) as f64
    }

    fn suspects_agree(&self) -> bool {
        let mean = self.suspect_interval();
        if mean.is_nan() || mean <= 0.0 {
            return false;
        }
        self.suspects.windows(2).all(|pair| {
            let steps = (pair[1].0 - pair[0].0).max(1) as f64;
            ((pair[1].1 - pair[0].1) / steps - mean).abs() <= CHANGE_AGREEMENT * mean
        })
    }

    /// Forget the fitted ticks (keeping the period as a first guess).
    fn clear(&mut self) {
        self.len = 0;
        self.head = 0;
        self.suspect_len = 0;
    }

    fn accept(&mut self, point: Point) {
        self.points[self.head] = point;
        self.head = (self.head + 1) % WINDOW;
        self.len = (self.len + 1).min(WINDOW);
        self.last = point;
        self.fit();
    }

    /// Least squares through the window (centred, so ten minutes of frames
    /// lose nothing to rounding).
    fn fit(&mut self) {
        let points = &self.points[..self.len.max(1)];
        let n = points.len() as f64;
        let (sum_t, sum_f) =
            points.iter().fold((0.0, 0.0), |(t, f), &(tick, frame)| (t + tick as f64, f + frame));
        let (mean_tick, mean_frame) = (sum_t / n, sum_f / n);
        let (sxx, sxy) = points.iter().fold((0.0, 0.0), |(xx, xy), &(tick, frame)| {
            let dx = tick as f64 - mean_tick;
            (xx + dx * dx, xy + dx * (frame - mean_frame))
        });
        let period = if sxx > 0.0 && sxy > 0.0 { sxy / sxx } else { self.line.period };
        self.line = Line { mean_tick, mean_frame, period };
    }

    /// Where the grid should be at `frame`: the line's position and period.
    fn position(&self, frame: f64) -> GridCommand {
        let ppq = f64::from(CLOCK_PPQ);
        GridCommand::Position { beat: self.line.tick(frame) / ppq, frames_per_beat: self.line.period * ppq }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::noise::Rng;

    const SR: f64 = 48_000.0;

    fn parse(bytes: &[u8]) -> Vec<ClockMessage> {
        let mut parser = ClockParser::new();
        bytes.iter().filter_map(|&b| parser.push(b)).collect()
    }

    #[test]
    fn clock_bytes_parse_even_between_the_bytes_of_other_messages() {
        assert_eq!(
            parse(&[0xF8, 0xFA, 0xFB, 0xFC, 0xF2, 0x10, 0x02]),
            vec![
                ClockMessage::Tick,
                ClockMessage::Start,
                ClockMessage::Continue,
                ClockMessage::Stop,
                ClockMessage::SongPosition(0x10 | (0x02 << 7)),
            ]
        );
        // Ticks inside a song position and inside a note-on.
        assert_eq!(
            parse(&[0xF2, 0xF8, 0x05, 0xFE, 0xF8, 0x01, 0x90, 0xF8, 60, 0xF8, 100]),
            vec![
                ClockMessage::Tick,
                ClockMessage::Tick,
                ClockMessage::SongPosition(5 | (1 << 7)),
                ClockMessage::Tick,
                ClockMessage::Tick,
            ]
        );
        // A status byte abandons a half song position; stray data is dropped.
        assert_eq!(parse(&[0xF2, 0x05, 0xB0, 0x07, 0x40, 0x01]), vec![]);
        for message in [ClockMessage::Tick, ClockMessage::SongPosition(16383), ClockMessage::Stop] {
            let (bytes, len) = message.to_bytes();
            assert_eq!(parse(&bytes[..len]), vec![message]);
        }
        // The channel parser is not disturbed by the same stream.
        let mut midi = crate::midi_map::MidiParser::new();
        let mut out = Vec::new();
        midi.push_all(&[0x90, 0xF8, 60, 0xFA, 100, 0xF2, 1, 2, 0xB0, 7, 9], |m| out.push(m));
        assert_eq!(
            out,
            vec![
                crate::midi_map::MidiMessage::NoteOn { channel: 0, note: 60, velocity: 100 },
                crate::midi_map::MidiMessage::ControlChange { channel: 0, controller: 7, value: 9 },
            ]
        );
    }

    /// A simulated master: tick `k` is due at `start + k × period` (seconds,
    /// with tempo changes), and arrives with uniform jitter of ±`jitter_s`.
    struct Master {
        rng: Rng,
        jitter_s: f64,
        /// (from tick, seconds at that tick, seconds per tick) segments.
        segments: Vec<(i64, f64, f64)>,
    }

    impl Master {
        fn new(bpm: f64, jitter_s: f64, seed: u64) -> Master {
            Master { rng: Rng::new(seed), jitter_s, segments: vec![(0, 0.25, period_s(bpm))] }
        }

        fn change_at(&mut self, tick: i64, bpm: f64) {
            let at = self.true_time(tick);
            self.segments.push((tick, at, period_s(bpm)));
        }

        fn true_time(&self, tick: i64) -> f64 {
            let &(from, at, period) = self.segments.iter().rev().find(|s| s.0 <= tick).expect("segment");
            at + (tick - from) as f64 * period
        }

        /// The true position (ticks) at a time.
        fn true_tick(&self, seconds: f64) -> f64 {
            let &(from, at, period) = self.segments.iter().rev().find(|s| s.1 <= seconds).expect("segment");
            from as f64 + (seconds - at) / period
        }

        fn arrival(&mut self, tick: i64) -> f64 {
            let jitter = self.rng.bipolar() * self.jitter_s;
            (self.true_time(tick) + jitter) * SR
        }
    }

    fn period_s(bpm: f64) -> f64 {
        60.0 / bpm / 24.0
    }

    /// Start, then ticks `0..ticks`; every position the follower reports,
    /// with the frame it was reported at.
    fn run(
        master: &mut Master,
        follower: &mut ClockFollower,
        ticks: std::ops::Range<i64>,
    ) -> Vec<(f64, f64, f64)> {
        let mut out = Vec::new();
        for k in ticks {
            let frame = master.arrival(k);
            if let Some(GridCommand::Position { beat, frames_per_beat }) =
                follower.feed(frame, ClockMessage::Tick)
            {
                out.push((frame, beat, frames_per_beat));
            }
        }
        out
    }

    fn started(master: &mut Master) -> ClockFollower {
        let mut follower = ClockFollower::new(SR);
        assert_eq!(follower.feed(master.arrival(0) - 100.0, ClockMessage::Start), None);
        follower
    }

    #[test]
    fn a_jittery_clock_reads_its_tempo_after_two_bars() {
        for bpm in [60.0, 123.0, 174.0, 240.0] {
            let mut worst: f64 = 0.0;
            for seed in 0..8 {
                let mut master = Master::new(bpm, 0.001, seed);
                let mut follower = started(&mut master);
                let positions = run(&mut master, &mut follower, 0..192);
                assert_eq!(positions[0].1, 0.0, "the first tick after Start is beat 0");
                let read = follower.tempo_bpm().expect("tempo");
                worst = worst.max((read - bpm).abs());
                assert!((read - bpm).abs() < 0.05, "{bpm} BPM read as {read} (seed {seed})");
                assert!(follower.locked());
            }
            println!(
                "clock in at {bpm} BPM, ±1 ms jitter, after two bars: worst of 8 runs {worst:.4} BPM off"
            );
        }
    }

    #[test]
    fn a_tempo_change_is_followed_within_a_beat() {
        let mut worst: f64 = 0.0;
        for seed in 0..16 {
            let mut master = Master::new(120.0, 0.001, seed);
            master.change_at(24 * 16, 140.0);
            let mut follower = started(&mut master);
            run(&mut master, &mut follower, 0..24 * 16);
            assert!((follower.tempo_bpm().unwrap() - 120.0).abs() < 0.05);
            run(&mut master, &mut follower, 24 * 16..24 * 17 + 1);
            let read = follower.tempo_bpm().unwrap();
            worst = worst.max((read - 140.0).abs());
            assert!((read - 140.0).abs() < 0.5, "one beat after 120 -> 140: {read} (seed {seed})");
        }
        println!("clock in, 120 -> 140 BPM: worst error one beat later {worst:.3} BPM");
    }

    #[test]
    fn positions_stay_on_the_true_clock_for_ten_minutes() {
        let bpm = 123.0;
        let mut master = Master::new(bpm, 0.001, 7);
        let mut follower = started(&mut master);
        let ticks = (600.0 / period_s(bpm)) as i64;
        let positions = run(&mut master, &mut follower, 0..ticks);
        assert!(positions.len() as i64 >= ticks / 24, "about once a beat: {}", positions.len());
        let mut worst_s: f64 = 0.0;
        for &(frame, beat, _) in positions.iter().skip(4) {
            let truth = master.true_tick(frame / SR) / 24.0;
            let error_s = (beat - truth).abs() * 60.0 / bpm;
            worst_s = worst_s.max(error_s);
        }
        assert!(worst_s < 0.001, "worst position error {:.3} ms", worst_s * 1e3);
        let last = positions.last().unwrap();
        assert!((60.0 * SR / last.2 - bpm).abs() < 0.02);
        println!(
            "clock in, 10 minutes at {bpm} BPM, ±1 ms jitter: {} positions, worst error {:.3} ms",
            positions.len(),
            worst_s * 1e3
        );
    }

    #[test]
    fn dropped_and_garbage_ticks_do_not_throw_it_off() {
        let bpm = 123.0;
        let mut master = Master::new(bpm, 0.001, 3);
        let mut follower = started(&mut master);
        let mut worst_s: f64 = 0.0;
        for k in 0..24 * 64 {
            let frame = master.arrival(k);
            if k > 100 && k % 97 == 0 {
                continue; // dropped
            }
            if k > 100 && k % 89 == 0 {
                // A stray tick between two real ones, and a late one off the line.
                follower.feed(frame + 0.2 * period_s(bpm) * SR, ClockMessage::Tick);
            }
            let frame = if k > 100 && k % 131 == 0 { frame + 0.006 * SR } else { frame };
            if let Some(GridCommand::Position { beat, .. }) = follower.feed(frame, ClockMessage::Tick) {
                if k > 24 {
                    let truth = master.true_tick(frame / SR) / 24.0;
                    worst_s = worst_s.max((beat - truth).abs() * 60.0 / bpm);
                }
            }
        }
        assert!((follower.tempo_bpm().unwrap() - bpm).abs() < 0.05, "{:?}", follower.tempo_bpm());
        assert!(worst_s < 0.001, "worst position error {:.3} ms", worst_s * 1e3);
        assert!(follower.ignored_ticks() > 0);
        assert_eq!(follower.restarts(), 0);
        println!("clock in with dropped, stray and late ticks: worst position error {:.3} ms", worst_s * 1e3);
    }

    #[test]
    fn a_silent_clock_stops_the_grid_and_resumes_where_it_would_be() {
        let mut master = Master::new(120.0, 0.0005, 5);
        let mut follower = started(&mut master);
        run(&mut master, &mut follower, 0..200);
        // One beat of silence is not yet lost; two are.
        let last = master.arrival(199);
        assert_eq!(follower.check(last + 24_000.0), None);
        assert_eq!(follower.check(last + 50_000.0), Some(GridCommand::Stop));
        assert_eq!(follower.check(last + 60_000.0), None, "once");
        assert!(!follower.locked());
        // The cable goes back in: the master ran on meanwhile.
        match follower.feed(master.arrival(300), ClockMessage::Tick) {
            Some(GridCommand::Position { beat, .. }) => assert!((beat - 300.0 / 24.0).abs() < 0.01, "{beat}"),
            other => panic!("{other:?}"),
        }
        run(&mut master, &mut follower, 301..340);
        assert!(follower.locked());
        // A stopped clock is not lost.
        follower.feed(master.arrival(340), ClockMessage::Stop);
        assert_eq!(follower.check(master.arrival(340) + 1e6), None);
    }

    #[test]
    fn stop_holds_and_continue_resumes_from_the_song_position() {
        let mut master = Master::new(120.0, 0.0, 1);
        let mut follower = started(&mut master);
        run(&mut master, &mut follower, 0..100);
        assert_eq!(follower.feed(master.arrival(100) - 10.0, ClockMessage::Stop), Some(GridCommand::Stop));
        assert!(!follower.locked());
        // Continue without a song position: the tick that would have come next.
        follower.feed(master.arrival(150), ClockMessage::Continue);
        match follower.feed(master.arrival(151), ClockMessage::Tick) {
            Some(GridCommand::Position { beat, frames_per_beat }) => {
                assert_eq!(beat, 100.0 / 24.0);
                assert!((frames_per_beat - 24_000.0).abs() < 1.0, "{frames_per_beat}");
            }
            other => panic!("{other:?}"),
        }
        follower.feed(master.arrival(160), ClockMessage::Stop);
        // Song position 32 sixteenths = bar 3; the next Continue starts there.
        follower.feed(master.arrival(170), ClockMessage::SongPosition(32));
        follower.feed(master.arrival(171), ClockMessage::Continue);
        match follower.feed(master.arrival(172), ClockMessage::Tick) {
            Some(GridCommand::Position { beat, .. }) => assert_eq!(beat, 8.0),
            other => panic!("{other:?}"),
        }
        // A Start always starts at beat 0; Stop without running says nothing.
        follower.feed(master.arrival(180), ClockMessage::Stop);
        assert_eq!(follower.feed(master.arrival(181), ClockMessage::Stop), None);
        follower.feed(master.arrival(182), ClockMessage::Start);
        assert!(matches!(
            follower.feed(master.arrival(183), ClockMessage::Tick),
            Some(GridCommand::Position { beat, .. }) if beat == 0.0
        ));
    }
}
