//! The offline renderer: a patch, an optional input recording and a list of
//! timed events in, a WAV file (and optional stems) out. The same engine as
//! the live instrument, driven by a clock instead of a sound card.

use crate::engine::{Command, Engine, EngineConfig, TimedCommand, MAX_RECORD_LATENCY};
use crate::events::EventList;
use crate::patch::Patch;
use crate::wav::{BitDepth, WavOut};
use std::path::{Path, PathBuf};

/// Sample rate used when neither the patch nor the command line names one.
pub const DEFAULT_SAMPLE_RATE: u32 = 48_000;
/// Processing block size when none is given; it never changes the result.
pub const DEFAULT_BLOCK: usize = 256;
/// Largest block `--block` accepts.
pub const MAX_BLOCK: usize = 65_536;
/// Longest render, in seconds (ten hours).
pub const MAX_DURATION_S: f64 = 36_000.0;

/// What `ferrotape render` was asked to do.
#[derive(Clone, Debug)]
pub struct RenderRequest {
    pub patch: PathBuf,
    pub input: Option<PathBuf>,
    pub events: Option<PathBuf>,
    pub duration_s: f64,
    pub out: PathBuf,
    pub block: usize,
    pub stems: Option<PathBuf>,
    pub bits: u16,
    /// Round-trip latency the record heads compensate, as live audio would
    /// (`--latency-ms` / `--latency-frames`); none = 0.
    pub latency: Option<Latency>,
    /// Threads to render the tracks on (`--threads`); 0 = one per core.
    /// Any number gives the same samples.
    pub threads: usize,
}

/// Block a render on several threads processes at a time: long enough that
/// starting the threads costs little against the work (the result does not
/// depend on it).
pub const THREADED_BLOCK: usize = 4096;

/// A round-trip latency as the command line gives it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Latency {
    Milliseconds(f64),
    Frames(u32),
}

impl Latency {
    /// In frames at `sample_rate`, or why it cannot be compensated.
    pub fn frames(self, sample_rate: u32) -> Result<u32, String> {
        let limit_ms = f64::from(MAX_RECORD_LATENCY) * 1000.0 / f64::from(sample_rate);
        let (frames, shown) = match self {
            Latency::Milliseconds(ms) if ms.is_finite() && ms >= 0.0 => {
                ((ms / 1000.0 * f64::from(sample_rate)).round(), format!("--latency-ms {ms}"))
            }
            Latency::Milliseconds(ms) => {
                return Err(format!("--latency-ms {ms} must be a number of milliseconds, 0 or more"))
            }
            Latency::Frames(frames) => (f64::from(frames), format!("--latency-frames {frames}")),
        };
        if frames > f64::from(MAX_RECORD_LATENCY) {
            return Err(format!(
                "{shown} is more than the record head can compensate ({MAX_RECORD_LATENCY} frames, {limit_ms:.1} ms at {sample_rate} Hz)"
            ));
        }
        Ok(frames as u32)
    }
}

/// What a render produced, for the one-line summary.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderReport {
    pub out: PathBuf,
    pub stems: Vec<PathBuf>,
    pub frames: u64,
    pub sample_rate: u32,
    pub peak_dbfs: f32,
    pub rms_dbfs: f32,
    pub events: usize,
    /// Non-finite values the engine caught and silenced.
    pub faults: u64,
    /// Threads the tracks were rendered on.
    pub threads: usize,
    /// Wall time of the render, seconds.
    pub elapsed_s: f64,
}

/// A sorted list of commands at absolute frame positions.
pub type Score = Vec<(u64, Command)>;

/// Render from files, streaming blocks to disk.
pub fn render_files(request: &RenderRequest) -> Result<RenderReport, String> {
    let depth = BitDepth::from_bits(request.bits)
        .ok_or_else(|| format!("--bits {} is not supported (use 16, 24 or 32)", request.bits))?;
    if !(request.duration_s.is_finite() && request.duration_s > 0.0 && request.duration_s <= MAX_DURATION_S) {
        return Err(format!(
            "--duration {} must be between 0 and {MAX_DURATION_S} seconds",
            request.duration_s
        ));
    }
    if request.block == 0 || request.block > MAX_BLOCK {
        return Err(format!("--block {} must be between 1 and {MAX_BLOCK} frames", request.block));
    }
    let patch = Patch::load(&request.patch).map_err(|e| e.to_string())?;
    let sample_rate = patch.sample_rate.unwrap_or(DEFAULT_SAMPLE_RATE);
    let config = patch.engine_config();
    let score = match &request.events {
        Some(path) => {
            let events = EventList::load(path).map_err(|e| e.to_string())?;
            events.check_tracks(config.tracks.len()).map_err(|e| e.to_string())?;
            events.frames(sample_rate as f64).collect()
        }
        None => Score::new(),
    };
    let input = match &request.input {
        Some(path) => crate::wav::read_mono(path, sample_rate)?,
        None => Vec::new(),
    };
    let frames = (request.duration_s * sample_rate as f64).round() as u64;
    let mut score = score;
    if let Some(latency) = request.latency {
        // First at frame 0, so an event at 0 in the score still wins.
        score.insert(0, (0, Command::RecordLatency { frames: latency.frames(sample_rate)? }));
    }

    let mut mix = WavOut::create(&request.out, 2, sample_rate, depth)?;
    let mut stems = match &request.stems {
        Some(dir) => create_stems(dir, config.tracks.len(), sample_rate, depth)?,
        None => Vec::new(),
    };
    let mut meter = LevelMeter::default();
    let mut failure = None;
    let started = std::time::Instant::now();
    let threads = crate::engine::render_threads_for(request.threads, config.tracks.len());
    let block = if threads > 1 { request.block.max(THREADED_BLOCK) } else { request.block };
    let mut engine = Engine::new(config, sample_rate as f64, block);
    engine.set_render_threads(threads);
    let faults = render_engine(&mut engine, &input[..], &score, frames, block, |block| {
        if failure.is_some() {
            return;
        }
        meter.add(block.left, block.right);
        let mut result = mix.write(&[block.left, block.right]);
        for (t, stem) in stems.iter_mut().enumerate() {
            result = result.and_then(|_| stem.write(&[block.stem(t)]));
        }
        if let Err(e) = result {
            failure = Some(e);
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    let out = mix.finish()?;
    let stems = stems.into_iter().map(WavOut::finish).collect::<Result<Vec<_>, _>>()?;
    Ok(RenderReport {
        out,
        stems,
        frames,
        sample_rate,
        peak_dbfs: meter.peak_dbfs(),
        rms_dbfs: meter.rms_dbfs(),
        events: score.len(),
        faults,
        threads,
        elapsed_s: started.elapsed().as_secs_f64(),
    })
}

fn create_stems(dir: &Path, tracks: usize, sample_rate: u32, depth: BitDepth) -> Result<Vec<WavOut>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    (0..tracks).map(|t| WavOut::create(&dir.join(stem_name(t)), 1, sample_rate, depth)).collect()
}

/// File name of a track's stem: `track-01.wav` for the first track.
pub fn stem_name(track: usize) -> String {
    format!("track-{:02}.wav", track + 1)
}

/// One rendered block, handed to the caller's sink.
pub struct RenderedBlock<'a> {
    pub left: &'a [f32],
    pub right: &'a [f32],
    engine: &'a Engine,
}

impl RenderedBlock<'_> {
    /// A track's output for this block (after level, before pan and master).
    pub fn stem(&self, track: usize) -> &[f32] {
        self.engine.stem(track, self.left.len())
    }

    pub fn engine(&self) -> &Engine {
        self.engine
    }
}

/// Drive an engine through `frames` frames in blocks of `block`, applying the
/// score sample-accurately, and hand every block to `sink`. Returns the
/// number of non-finite values the engine caught.
pub fn render_with(
    config: EngineConfig,
    sample_rate: u32,
    input: &[f32],
    score: &[(u64, Command)],
    frames: u64,
    block: usize,
    sink: impl FnMut(RenderedBlock<'_>),
) -> u64 {
    let block = block.clamp(1, MAX_BLOCK);
    let mut engine = Engine::new(config, sample_rate as f64, block);
    render_engine(&mut engine, input, score, frames, block, sink)
}

/// Where a render's input comes from: the renderer asks for it one block at
/// a time, in order, so a source can stream it from disk.
pub trait InputSource {
    /// Fill `out` with the input frames that start at frame `position`;
    /// silence where the input has ended.
    fn fill(&mut self, position: u64, out: &mut [f32]);
}

impl<T: InputSource + ?Sized> InputSource for &mut T {
    fn fill(&mut self, position: u64, out: &mut [f32]) {
        (**self).fill(position, out);
    }
}

/// A whole input held in memory.
impl InputSource for &[f32] {
    fn fill(&mut self, position: u64, out: &mut [f32]) {
        let start = usize::try_from(position).unwrap_or(usize::MAX).min(self.len());
        let available = (self.len() - start).min(out.len());
        out[..available].copy_from_slice(&self[start..start + available]);
        out[available..].fill(0.0);
    }
}

/// As [`render_with`], for an engine the caller built (tapes already loaded,
/// for instance), with the input from any [`InputSource`]. `block` must not
/// exceed the engine's prepared maximum for the stems to cover whole blocks.
pub fn render_engine(
    engine: &mut Engine,
    mut input: impl InputSource,
    score: &[(u64, Command)],
    frames: u64,
    block: usize,
    mut sink: impl FnMut(RenderedBlock<'_>),
) -> u64 {
    let block = block.clamp(1, engine.max_block());
    let mut left = vec![0.0f32; block];
    let mut right = vec![0.0f32; block];
    let mut scratch = vec![0.0f32; block];
    let mut timed: Vec<TimedCommand> = Vec::with_capacity(score.len().min(4096));
    let mut next_event = 0;
    let mut position = 0u64;
    while position < frames {
        let n = (frames - position).min(block as u64) as usize;
        timed.clear();
        while next_event < score.len() && score[next_event].0 < position + n as u64 {
            let (at, command) = score[next_event];
            timed.push(TimedCommand { offset: at.saturating_sub(position) as u32, command });
            next_event += 1;
        }
        // The input ends somewhere: beyond it the engine hears silence.
        input.fill(position, &mut scratch[..n]);
        engine.process(&scratch[..n], &mut left[..n], &mut right[..n], &timed);
        sink(RenderedBlock { left: &left[..n], right: &right[..n], engine });
        position += n as u64;
    }
    engine.snapshot().faults
}

/// A whole render held in memory (tests, benchmarks, analysis).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rendered {
    pub left: Vec<f32>,
    pub right: Vec<f32>,
    pub stems: Vec<Vec<f32>>,
    pub faults: u64,
}

/// Render into memory.
pub fn render_to_memory(
    config: EngineConfig,
    sample_rate: u32,
    input: &[f32],
    score: &[(u64, Command)],
    frames: u64,
    block: usize,
) -> Rendered {
    let tracks = config.tracks.len();
    let mut rendered =
        Rendered { stems: vec![Vec::with_capacity(frames as usize); tracks], ..Default::default() };
    rendered.left.reserve(frames as usize);
    rendered.right.reserve(frames as usize);
    rendered.faults = render_with(config, sample_rate, input, score, frames, block, |b| {
        rendered.left.extend_from_slice(b.left);
        rendered.right.extend_from_slice(b.right);
        for (t, stem) in rendered.stems.iter_mut().enumerate() {
            stem.extend_from_slice(b.stem(t));
        }
    });
    rendered
}

/// Running peak and RMS of a stereo signal.
#[derive(Default)]
struct LevelMeter {
    peak: f32,
    sum_squares: f64,
    count: u64,
}

impl LevelMeter {
    fn add(&mut self, left: &[f32], right: &[f32]) {
        for &x in left.iter().chain(right) {
            self.peak = self.peak.max(x.abs());
            self.sum_squares += (x as f64) * (x as f64);
            self.count += 1;
        }
    }

    fn peak_dbfs(&self) -> f32 {
        to_db(self.peak as f64)
    }

    fn rms_dbfs(&self) -> f32 {
        to_db((self.sum_squares / self.count.max(1) as f64).sqrt())
    }
}

fn to_db(x: f64) -> f32 {
    if x <= 1e-6 {
        -120.0
    } else {
        (20.0 * x.log10()) as f32
    }
}
