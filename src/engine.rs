//! The tape engine: pure DSP, no I/O, no threads, no locks.
//!
//! Lifecycle: [`Engine::new`] takes a configuration and calls
//! [`Engine::prepare`], which allocates every buffer for a sample rate and a
//! maximum block size; [`Engine::process`] then renders audio without
//! allocating, locking, printing or waiting. Everything inside `process` runs
//! per sample, so the output is identical whatever the block size, and
//! deterministic for a seed.

pub mod action;
pub mod color;
pub mod command;
pub mod filter;
pub mod grid;
pub mod math;
pub mod mixer;
pub mod noise;
pub mod params;
mod quantize;
pub use quantize::Acted;
pub mod snapshot;
pub mod tape;
pub mod track;
pub mod transport;

pub use action::{ActionSpec, Button, GridRule, TakeRule};
pub use command::{Command, TimedCommand, TrackAction};
pub use grid::{GridCommand, GridState, Lock, SyncConfig, SyncSource};
pub use params::{
    EngineConfig, Param, Quality, SaturationModel, TapeLength, ToneModel, TrackConfig, TrackParams,
    MAX_TRACKS,
};
pub use snapshot::{EngineSnapshot, HeadMode, TrackSnapshot, TrackState};

use grid::Grid;
use mixer::{pan_gains, smoothing_coefficient, MasterBus, PanStage, SMOOTHING_S};
pub use tape::CpuPath;
use tape::Reader;
use track::{Steady, Track};
pub use track::{MAX_RECORD_LATENCY, MIN_TRAIL_FRAMES};

/// Revision of the sound model. It changes whenever anything the engine's
/// output depends on changes, so a take (which records the revision that
/// played it) knows whether this build re-renders it exactly. Revision 1
/// was the first engine; 2 writes through the record head that follows the
/// play head's path; 3 makes every writing pass an undo level of its own
/// (a record followed by a dub is two); 4 reads through a bank of
/// band-limited kernels, one per speed band, so fast playback does not
/// alias; 5 computes every transcendental function the sound depends on
/// itself ([`math`]), so a take re-renders to the same bits whichever C
/// library, or variant of it, the machine runs. `tests/model_revision.rs`
/// holds the fingerprint of
/// each revision's output and fails when the output changes without it.
pub const MODEL_REVISION: u32 = 5;

/// The whole instrument's sound: every track, the mixer and the master bus.
pub struct Engine {
    config: EngineConfig,
    sample_rate: f64,
    max_block: usize,
    reader: Reader,
    tracks: Vec<Track>,
    pans: Vec<PanStage>,
    /// Each track's output for the last block (after level, before pan).
    stems: Vec<Vec<f32>>,
    master: MasterBus,
    pan_smoothing: f32,
    /// Gain of the input passed straight to the output, per channel, smoothed.
    monitor: f32,
    frames: u64,
    master_peak: [f32; 2],
    record_latency: u32,
    grid: Grid,
    /// The leading track's loop came round at the end of the last segment.
    loop_top_pending: bool,
    /// The engine frame of the sample being processed (commands apply here).
    now: u64,
    /// Waited presses that acted, until drained.
    acted: [Acted; quantize::MAX_ACTED],
    acted_count: usize,
    /// Threads an offline render runs the tracks on (1: the caller's only).
    render_threads: usize,
    /// Whether tracks at rest run on their steady path (see `Track::steady`).
    steady_path: bool,
}

/// A stretch shorter than this runs on one thread: starting threads would
/// cost more than it saves.
const PARALLEL_MIN_FRAMES: usize = 512;

impl Engine {
    /// Build an engine for a configuration. Allocates; call off the audio thread.
    pub fn new(config: EngineConfig, sample_rate: f64, max_block: usize) -> Engine {
        let mut engine = Engine {
            config,
            sample_rate,
            max_block: 0,
            reader: Reader::detect(),
            tracks: Vec::new(),
            pans: Vec::new(),
            stems: Vec::new(),
            master: MasterBus::new(sample_rate, 0.0),
            pan_smoothing: 0.0,
            monitor: 0.0,
            frames: 0,
            master_peak: [0.0; 2],
            record_latency: 0,
            grid: Grid::new(&grid::SyncConfig::default(), sample_rate),
            loop_top_pending: false,
            now: 0,
            acted: [Acted { frame: 0, track: 0, action: TrackAction::Play }; quantize::MAX_ACTED],
            acted_count: 0,
            render_threads: 1,
            steady_path: true,
        };
        engine.prepare(sample_rate, max_block);
        engine
    }

    /// (Re)build every track and buffer for a sample rate and the largest
    /// block `process` will be given. Allocates; tapes start blank.
    pub fn prepare(&mut self, sample_rate: f64, max_block: usize) {
        self.sample_rate = sample_rate;
        self.max_block = max_block.max(1);
        let count = self.config.tracks.len().min(MAX_TRACKS);
        self.tracks = (0..count)
            .map(|i| {
                let seed = noise::mix64(self.config.seed ^ noise::mix64(i as u64 + 1));
                Track::new(&self.config.tracks[i], self.config.quality, sample_rate, seed)
            })
            .collect();
        self.pans = self.tracks.iter().map(|t| PanStage::new(t.params().get(Param::Pan))).collect();
        self.stems = vec![vec![0.0; self.max_block]; count];
        self.master = MasterBus::new(sample_rate, self.config.master_db);
        self.pan_smoothing = smoothing_coefficient(sample_rate, SMOOTHING_S);
        self.monitor = self.monitor_target();
        self.frames = 0;
        self.now = 0;
        self.grid = Grid::new(&self.config.sync, sample_rate);
        self.loop_top_pending = false;
        let latency = self.record_latency;
        self.set_record_latency(latency);
        self.update_audibility();
        for track in &mut self.tracks {
            track.snap_audibility();
        }
    }

    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    pub fn max_block(&self) -> usize {
        self.max_block
    }

    pub fn track_count(&self) -> usize {
        self.tracks.len()
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Current parameter values of a track.
    pub fn track_params(&self, track: usize) -> Option<&TrackParams> {
        self.tracks.get(track).map(Track::params)
    }

    /// What a save needs of a track: parameters, mute, solo, loop length.
    pub fn track_state(&self, track: usize) -> Option<TrackState> {
        self.tracks.get(track).map(Track::state)
    }

    /// Whether any track's record head is writing (record, dub or erase).
    pub fn heads_writing(&self) -> bool {
        self.tracks.iter().any(|t| t.mode().writes())
    }

    /// A track's play head position in cells (0 ≤ position < loop length).
    pub fn play_position(&self, track: usize) -> Option<f64> {
        self.tracks.get(track).map(Track::play_position)
    }

    /// A track's record head position in cells.
    pub fn record_position(&self, track: usize) -> Option<f64> {
        self.tracks.get(track).map(Track::record_position)
    }

    /// A track's tape contents (the current loop; during a multiply or an
    /// insert, the loop a save keeps: see `Track::saved_length`).
    pub fn tape(&self, track: usize) -> Option<&[f32]> {
        self.tracks.get(track).map(|t| t.tape().cells_to(t.saved_length()))
    }

    /// Round-trip audio latency in frames (output plus input) the record
    /// heads compensate for: input is written where the play head was that
    /// many frames ago, so a dub lines up with what the performer heard.
    /// Clamped to [`MAX_RECORD_LATENCY`]. Kept across `prepare`. Does not allocate.
    pub fn set_record_latency(&mut self, frames: u32) {
        self.record_latency = frames.min(MAX_RECORD_LATENCY);
        for track in &mut self.tracks {
            track.set_record_latency(self.record_latency);
        }
    }

    pub fn record_latency(&self) -> u32 {
        self.record_latency
    }

    /// Put saved audio on a track's tape (a session being reopened). Call off
    /// the audio thread, before processing. A fixed track keeps its length
    /// (missing cells stay blank, extra ones are dropped); a free track's loop
    /// becomes as long as `samples`, up to its maximum. Returns false when the
    /// track does not exist.
    pub fn load_tape(&mut self, track: usize, samples: &[f32]) -> bool {
        let has_grid = self.config.sync.source != SyncSource::None;
        let fpb = self.grid.frames_per_beat();
        match self.tracks.get_mut(track) {
            Some(t) => {
                t.load_tape(samples);
                // A quantized loop saved on this grid is locked to it again:
                // within a cell of a whole number of beats at the tempo.
                let quantized = matches!(t.quantize(), params::Quantize::Beat | params::Quantize::Bar);
                let speed = f64::from(t.params().get(Param::Speed).abs());
                if has_grid && quantized && !t.length_unset() && speed > 0.0 {
                    let beats = (t.tape().len() as f64 / (speed * fpb)).round();
                    if beats >= 1.0 && (beats * fpb * speed - t.tape().len() as f64).abs() <= 1.0 {
                        t.lock_to_grid(beats, fpb);
                    }
                }
                true
            }
            None => false,
        }
    }

    /// Run the play heads' kernels on `path` instead of the fastest one this
    /// CPU has. Every path gives bit-identical output; this is how that is
    /// proven. A path the CPU lacks is refused (returns false).
    pub fn set_cpu_path(&mut self, path: CpuPath) -> bool {
        if !CpuPath::available().contains(&path) {
            return false;
        }
        self.reader.path = path;
        true
    }

    /// The instruction set the play heads run on.
    pub fn cpu_path(&self) -> CpuPath {
        self.reader.path
    }

    /// The time grid as it stands.
    pub fn grid(&self) -> grid::GridState {
        let mut state = self.grid.state();
        state.frame = self.frames;
        state
    }

    /// Apply a command now. Commands for tracks that do not exist are ignored.
    pub fn apply(&mut self, command: Command) {
        let Some(index) = command.track() else {
            match command {
                Command::RecordLatency { frames } => self.set_record_latency(frames),
                Command::Grid(grid) => self.apply_grid(grid),
                _ => {}
            }
            return;
        };
        if let Command::Track { action: TrackAction::Tap, .. } = command {
            self.apply_grid(grid::GridCommand::Tap);
            return;
        }
        if let Command::Track { action, .. } = command {
            self.press(usize::from(index), action);
            return;
        }
        let Some(track) = self.tracks.get_mut(usize::from(index)) else { return };
        match command {
            Command::Track { .. } => {}
            Command::Set { param, value, .. } => track.set_param(param, value),
            Command::Nudge { param, delta, .. } => {
                let value = track.params().get(param) + delta;
                track.set_param(param, value);
            }
            Command::RecordLatency { .. } | Command::Grid(_) => {}
        }
    }

    /// Per-channel gain of the monitored input: centre, equal power.
    fn monitor_target(&self) -> f32 {
        filter::db_to_gain(self.config.monitor_db) * std::f32::consts::FRAC_1_SQRT_2
    }

    pub(crate) fn update_audibility(&mut self) {
        let any_solo = self.tracks.iter().any(Track::is_soloed);
        for track in &mut self.tracks {
            let audible = !track.is_muted() && (!any_solo || track.is_soloed());
            track.set_audible(audible);
        }
    }

    /// Render one block. `input` is mono and either empty (silence) or as long
    /// as the outputs; `commands` are applied at their frame offsets, in order
    /// (offsets past the end apply at the last frame). Blocks longer than the
    /// prepared maximum are processed in pieces; stems then hold the last piece.
    pub fn process(&mut self, input: &[f32], left: &mut [f32], right: &mut [f32], commands: &[TimedCommand]) {
        let frames = left.len().min(right.len());
        let mut done = 0;
        let mut pending = commands;
        while done < frames {
            let n = (frames - done).min(self.max_block);
            let piece_input = if input.len() >= done + n { &input[done..done + n] } else { &[][..] };
            let last_piece = done + n == frames;
            let split = pending.partition_point(|c| (c.offset as usize) < done + n || last_piece);
            let (now, later) = pending.split_at(split);
            self.process_piece(piece_input, &mut left[done..done + n], &mut right[done..done + n], now, done);
            pending = later;
            done += n;
        }
    }

    fn process_piece(
        &mut self,
        input: &[f32],
        left: &mut [f32],
        right: &mut [f32],
        commands: &[TimedCommand],
        base: usize,
    ) {
        let frames = left.len();
        left.fill(0.0);
        right.fill(0.0);
        // Offset of a command within this piece; late ones apply at the last frame.
        let local = |c: &TimedCommand| (c.offset as usize).saturating_sub(base).min(frames - 1);
        let piece_start = self.frames;
        let mut start = 0;
        let mut next_command = 0;
        while start < frames {
            // Apply every command due at `start`, then deliver a grid point
            // that falls here, then run to the next command or grid point.
            self.now = piece_start + start as u64;
            while next_command < commands.len() && local(&commands[next_command]) <= start {
                self.apply(commands[next_command].command);
                next_command += 1;
            }
            self.deliver_grid_point();
            self.deliver_loop_top();
            self.on_frame();
            let mut end = commands.get(next_command).map_or(frames, |c| local(c).max(start + 1));
            let next_event = [self.grid.next_point().map(|(at, _)| at), self.next_frame_wait()];
            for at in next_event.into_iter().flatten() {
                if at < piece_start + end as u64 {
                    end = end.min(at.saturating_sub(piece_start) as usize).max(start + 1);
                }
            }
            // A track whose loop top others wait for runs first: the segment
            // ends where it wraps, and the next one begins with the top.
            let leader = self.loop_leader();
            if let Some(l) = leader {
                end = self.run_track(l, input, start, end, true);
                self.loop_top_pending = self.tracks[l].wrapped();
            }
            self.run_followers(leader, input, start, end);
            for (t, track) in self.tracks.iter().enumerate() {
                let target = pan_gains(track.params().get(Param::Pan));
                let stem = &self.stems[t][start..end];
                self.pans[t].mix(
                    target,
                    self.pan_smoothing,
                    stem,
                    &mut left[start..end],
                    &mut right[start..end],
                );
            }
            start = end;
        }
        let monitor_target = self.monitor_target();
        if monitor_target > 0.0 || self.monitor > 0.0 {
            for (i, (l, r)) in left.iter_mut().zip(right.iter_mut()).enumerate() {
                self.monitor = filter::flush_denormal(
                    self.monitor + self.pan_smoothing * (monitor_target - self.monitor),
                );
                let x = input.get(i).copied().filter(|x| x.is_finite()).unwrap_or(0.0) * self.monitor;
                *l += x;
                *r += x;
            }
        }
        let mut peak = [0.0f32; 2];
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            self.master.process(l, r);
            peak[0] = peak[0].max(l.abs());
            peak[1] = peak[1].max(r.abs());
        }
        self.master_peak = [self.master_peak[0].max(peak[0]), self.master_peak[1].max(peak[1])];
        self.frames += frames as u64;
    }

    /// Move the grid; locked loops follow a new tempo.
    fn apply_grid(&mut self, command: grid::GridCommand) {
        if self.grid.apply(command, self.now) {
            let fpb = self.grid.frames_per_beat();
            for track in &mut self.tracks {
                track.follow_tempo(fpb);
            }
        }
    }

    /// Hand the grid point at the current frame, if one falls here, to the tracks.
    fn deliver_grid_point(&mut self) {
        while let Some((at, point)) = self.grid.next_point() {
            if at > self.now {
                break;
            }
            self.grid.passed(self.now);
            self.on_grid_point(point);
        }
    }

    /// The leading track's loop came round at the current frame: presses
    /// waiting for it act, and a grid derived from it (`clock_from`) is
    /// moved onto it.
    fn deliver_loop_top(&mut self) {
        if !std::mem::take(&mut self.loop_top_pending) {
            return;
        }
        self.on_loop_top();
        if let Some((t, beats)) = self.config.sync.clock_from {
            if let Some(track) = self.tracks.get(t) {
                let period = track.period_frames();
                if period.is_finite() && !track.length_unset() {
                    let beat = if self.grid.running() {
                        (self.grid.state().beat_at(self.now) / beats).round() * beats
                    } else {
                        0.0
                    };
                    self.apply_grid(grid::GridCommand::Position { beat, frames_per_beat: period / beats });
                }
            }
        }
    }

    /// Run track `t` over `[start, end)` of this piece, into its stem.
    /// With `stop_at_top`, stop after the sample in which its play head
    /// wraps; returns where it stopped.
    fn run_track(&mut self, t: usize, input: &[f32], start: usize, end: usize, stop_at_top: bool) -> usize {
        let (track, stem) = (&mut self.tracks[t], &mut self.stems[t]);
        run_samples(track, stem, &self.reader, input, start..end, stop_at_top, self.steady_path)
    }

    /// Run every track but the leader over `[start, end)`: in turn, or on
    /// `render_threads` threads at once (offline only). Tracks are
    /// independent until the mixer, so both give the same samples.
    fn run_followers(&mut self, leader: Option<usize>, input: &[f32], start: usize, end: usize) {
        let threads = self.render_threads.min(self.tracks.len());
        if threads <= 1 || end - start < PARALLEL_MIN_FRAMES {
            let jobs = self.tracks.iter_mut().zip(self.stems.iter_mut()).enumerate();
            let followers = jobs.filter(|(t, _)| Some(*t) != leader).map(|(_, job)| job);
            run_in_pairs(followers, &self.reader, input, start..end, self.steady_path);
            return;
        }
        // Round robin, so neighbouring tracks (often alike in cost: a row
        // of dubbing tracks) spread over the threads. Offline: allocating is fine.
        let mut shares: Vec<Vec<(&mut Track, &mut Vec<f32>)>> = (0..threads).map(|_| Vec::new()).collect();
        for (t, job) in self.tracks.iter_mut().zip(self.stems.iter_mut()).enumerate() {
            if Some(t) != leader {
                shares[t % threads].push(job);
            }
        }
        let (reader, steady_path) = (&self.reader, self.steady_path);
        let run_share = move |share: Vec<(&mut Track, &mut Vec<f32>)>| {
            run_in_pairs(share.into_iter(), reader, input, start..end, steady_path);
        };
        std::thread::scope(|scope| {
            let mut shares = shares.into_iter();
            // The calling thread takes the first share itself.
            let first = shares.next();
            for share in shares {
                scope.spawn(move || run_share(share));
            }
            if let Some(share) = first {
                run_share(share);
            }
        });
    }

    /// Render on up to `threads` threads (0: as many as the machine has
    /// cores). Offline only: threads are started for every stretch between
    /// events, which the audio callback must never do. The output is
    /// bit-identical to a single-threaded render.
    pub fn set_render_threads(&mut self, threads: usize) {
        self.render_threads = render_threads_for(threads, usize::MAX);
    }

    /// Let tracks at rest skip what cannot change until the next command
    /// (on unless turned off). The samples are the same either way; off is
    /// there to prove it.
    pub fn set_steady_path(&mut self, on: bool) {
        self.steady_path = on;
    }

    /// Threads an offline render uses (see [`Engine::set_render_threads`]).
    pub fn render_threads(&self) -> usize {
        render_threads_for(self.render_threads, self.tracks.len())
    }

    /// A track's output for the last processed block (after level and mute,
    /// before pan and the master), as long as that block.
    pub fn stem(&self, track: usize, frames: usize) -> &[f32] {
        self.stems.get(track).map_or(&[][..], |s| &s[..frames.min(s.len())])
    }

    /// Take a picture for the screen; resets the peak meters.
    pub fn snapshot(&mut self) -> EngineSnapshot {
        let mut snapshot = EngineSnapshot {
            frames: self.frames,
            sample_rate: self.sample_rate.round() as u32,
            track_count: self.tracks.len(),
            master_peak: self.master_peak,
            grid: self.grid(),
            ..EngineSnapshot::default()
        };
        for (slot, track) in snapshot.tracks.iter_mut().zip(self.tracks.iter_mut()) {
            *slot = track.snapshot();
            snapshot.faults += track.faults();
        }
        self.master_peak = [0.0; 2];
        snapshot
    }
}

/// Threads a render asked for `requested` threads (0: one per core) runs
/// `tracks` tracks on: never more than there are tracks, at least one.
pub fn render_threads_for(requested: usize, tracks: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = if requested == 0 { cores } else { requested };
    threads.clamp(1, tracks.max(1))
}

/// Run one track over `range` of a piece into its stem (see `Engine::run_track`).
fn run_samples(
    track: &mut Track,
    stem: &mut [f32],
    reader: &Reader,
    input: &[f32],
    range: std::ops::Range<usize>,
    stop_at_top: bool,
    steady_path: bool,
) -> usize {
    let steady = track.steady().filter(|_| steady_path);
    run_samples_as(track, steady, stem, reader, input, range, stop_at_top)
}

/// [`run_samples`] for a track whose steady state (`None`: not at rest, or
/// the steady path off) is known already.
fn run_samples_as(
    track: &mut Track,
    steady: Option<Steady>,
    stem: &mut [f32],
    reader: &Reader,
    input: &[f32],
    range: std::ops::Range<usize>,
    stop_at_top: bool,
) -> usize {
    let (start, end) = (range.start, range.end);
    if let Some(steady) = steady.as_ref().filter(|steady| track.coasts(steady)) {
        let input = |i: usize| input_at(input, start + i);
        return start + track.run_coasting(steady, input, &mut stem[start..end], reader, stop_at_top);
    }
    let mut ran = end - start;
    for (i, out) in stem[start..end].iter_mut().enumerate() {
        let x = input_at(input, start + i);
        *out = match &steady {
            Some(steady) => track.tick_steady(x, reader, steady),
            None => track.tick(x, reader),
        };
        if stop_at_top && track.wrapped() {
            ran = i + 1;
            break;
        }
    }
    if let Some(steady) = &steady {
        track.end_steady_run(steady, ran);
    }
    start + ran
}

/// Run tracks over `range` into their stems two at a time (see
/// [`Track::tick_pair`]), the last one alone when they are odd in number.
fn run_in_pairs<'a>(
    mut jobs: impl Iterator<Item = (&'a mut Track, &'a mut Vec<f32>)>,
    reader: &Reader,
    input: &[f32],
    range: std::ops::Range<usize>,
    steady_path: bool,
) {
    while let Some((a, a_stem)) = jobs.next() {
        let Some((b, b_stem)) = jobs.next() else {
            run_samples(a, a_stem, reader, input, range, false, steady_path);
            return;
        };
        let steady = (a.steady(), b.steady());
        let coasting =
            [steady.0.as_ref().is_some_and(|s| a.coasts(s)), steady.1.as_ref().is_some_and(|s| b.coasts(s))];
        if steady_path && coasting.contains(&true) {
            // A coasting track runs its stretch on its own (see `Track::run_coasting`).
            run_samples_as(a, steady.0, a_stem, reader, input, range.clone(), false);
            run_samples_as(b, steady.1, b_stem, reader, input, range.clone(), false);
            continue;
        }
        if let (true, (Some(a_steady), Some(b_steady))) = (steady_path, steady) {
            for i in range.clone() {
                let x = input_at(input, i);
                let (ya, yb) = Track::tick_steady_pair((a, &a_steady), (b, &b_steady), x, reader);
                a_stem[i] = ya;
                b_stem[i] = yb;
            }
            a.end_steady_run(&a_steady, range.len());
            b.end_steady_run(&b_steady, range.len());
            continue;
        }
        for i in range.clone() {
            let (ya, yb) = Track::tick_pair(a, b, input_at(input, i), reader);
            a_stem[i] = ya;
            b_stem[i] = yb;
        }
    }
}

/// The input at frame `i` of a piece: silence past its end (no input
/// connected) and in place of anything non-finite.
#[inline]
fn input_at(input: &[f32], i: usize) -> f32 {
    let x = input.get(i).copied().unwrap_or(0.0);
    if x.is_finite() {
        x
    } else {
        0.0
    }
}
