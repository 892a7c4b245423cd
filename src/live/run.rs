//! One engine's worth of a live session: a [`Plan`] (the patch, its
//! bindings and score, checked) and the [`Run`] built from it — queues,
//! processor, take recorder, tape copier and the surfaces (keys, MIDI, OSC).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use super::component::{Components, Setup};
use super::controls::SharedControls;
use super::flush::AutosaveJob;
use super::session::LiveOptions;
use crate::bridge::{Bridge, InputWriter, LiveStats, QueueSizes, SnapshotReceiver};
use crate::engine::{Command, Engine};
use crate::events::EventList;
use crate::io::{self, AudioOptions, Handoff, LiveProcessor, StreamSettings};
use crate::midi_map::{MidiBinding, MidiMap};
use crate::patch::Patch;
use crate::session::{
    load_autosave, load_session, tape_mirror, tapes_dir, Autosave, AutosaveClock, DEFAULT_COPY_BUDGET,
};
use crate::take::{self, TakeConfig, TakeHandle};

/// A patch checked and resolved, ready to build a [`Run`] from.
pub(super) struct Plan {
    pub(super) patch_path: PathBuf,
    pub(super) patch: Patch,
    pub(super) bindings: Vec<MidiBinding>,
    pub(super) score: Vec<(u64, Command)>,
    /// The autosave to continue from, with what to tell the performer; or,
    /// when recovery was not asked for, a note that one exists.
    pub(super) recovery: Option<crate::session::Recovery>,
    pub(super) notes: Vec<String>,
    /// `--latency-ms` in frames at the run's sample rate.
    pub(super) fixed_latency: Option<u32>,
}

/// Everything built for one engine.
pub(super) struct Run {
    pub(super) plan: Plan,
    pub(super) processor: Arc<Handoff<LiveProcessor>>,
    pub(super) input: Arc<Handoff<InputWriter>>,
    pub(super) snapshots: SnapshotReceiver,
    pub(super) stats: Arc<LiveStats>,
    pub(super) take: Option<TakeHandle>,
    /// A start (true) or stop the writer has not reported yet, and when.
    pub(super) take_request: Option<(bool, Instant)>,
    pub(super) announced_take: Option<PathBuf>,
    pub(super) autosave: Option<AutosaveJob>,
    pub(super) clock: AutosaveClock,
    /// The tracks' modes and state in the last snapshot seen, and since when
    /// they differ from the last autosave.
    pub(super) last_seen: Vec<(crate::engine::HeadMode, crate::engine::TrackState)>,
    /// The grid in the newest snapshot (its tempo is saved with the patch).
    pub(super) last_grid: Option<crate::engine::GridState>,
    pub(super) changed_since: Option<Instant>,
    pub(super) saving: Option<JoinHandle<Result<PathBuf, String>>>,
    /// A patch just saved from the screen whose tapes go beside it with the
    /// next tape copy.
    pub(super) save_tapes_to: Option<PathBuf>,
    /// The surfaces (keys, MIDI, OSC, …), started once audio can start.
    pub(super) components: Components,
    /// The control state the surfaces share: selected track, take presses.
    pub(super) controls: SharedControls,
    /// Take presses acted on so far.
    pub(super) take_presses_seen: u32,
    /// Problems found while building (MIDI, take recorder, saved tapes).
    pub(super) problems: Vec<String>,
    /// The MIDI clock out thread (`[sync] clock_out = true`, without JACK),
    /// held for the run: dropping it sends a Stop and ends it.
    pub(super) _clock_out: Option<crate::sync::ClockThread>,
}

/// The null backend standing in for a device that did not open.
pub(super) fn null_options(audio: &AudioOptions) -> AudioOptions {
    AudioOptions { backend: io::BackendKind::Null, ..audio.clone() }
}

/// Read and check everything a run needs, without touching the running one.
pub(super) fn make_plan(
    patch_path: &Path,
    options: &LiveOptions,
    sample_rate: u32,
    with_events: bool,
) -> Result<Plan, String> {
    let mut patch = Patch::load(patch_path).map_err(|e| e.to_string())?;
    let mut notes = Vec::new();
    let found = Autosave::beside(patch_path).find_recovery(patch_path);
    let recovery = match found {
        Some(found) if options.recover => {
            let session = load_autosave(&found.dir, sample_rate)?;
            patch = session.patch;
            Some(found)
        }
        Some(found) => {
            notes.push(format!(
                "an autosave newer than {} exists ({}): start with --recover to continue from it",
                patch_path.display(),
                found.dir.display()
            ));
            None
        }
        None => None,
    };
    options.sync.apply(&mut patch.sync);
    let tracks = patch.tracks.len();
    let mut map = MidiMap::from_patch_tables(&patch.midi, patch_path).map_err(|e| e.to_string())?;
    if let Some(path) = &options.midi_map {
        // A map file that does not exist yet is where learned bindings will go.
        if path.exists() {
            let extra = MidiMap::load(path).map_err(|e| e.to_string())?;
            map.add_map(&extra, path).map_err(|e| e.to_string())?;
        }
    }
    let mut score = Vec::new();
    if let (true, Some(path)) = (with_events, &options.events) {
        let events = EventList::load(path).map_err(|e| e.to_string())?;
        events.check_tracks(tracks).map_err(|e| e.to_string())?;
        score = events.frames(sample_rate as f64).collect();
        score.sort_by_key(|&(at, _)| at);
    }
    let fixed_latency = options
        .audio
        .latency_ms
        .map(|ms| crate::render::Latency::Milliseconds(ms).frames(sample_rate))
        .transpose()?;
    Ok(Plan {
        patch_path: patch_path.to_path_buf(),
        patch,
        bindings: map.bindings,
        score,
        recovery,
        notes,
        fixed_latency,
    })
}

/// Build the engine, queues, recorder, copier and surfaces for a plan. Nothing
/// here is fatal: what fails is noted in `problems` and left out.
pub(super) fn build_run(
    mut plan: Plan,
    options: &LiveOptions,
    settings: &StreamSettings,
    interactive: bool,
) -> Run {
    let mut problems = std::mem::take(&mut plan.notes);
    let rate = settings.sample_rate;
    let config = plan.patch.engine_config();
    let mut engine = Box::new(Engine::new(config.clone(), rate as f64, settings.block));
    let mut start_tapes = Vec::new();
    if let Some(recovery) = &plan.recovery {
        match load_autosave(&recovery.dir, rate) {
            Ok(session) => {
                session.load_into(&mut engine);
                start_tapes =
                    (0..engine.track_count()).map(|t| engine.tape(t).unwrap_or(&[]).to_vec()).collect();
            }
            Err(e) => problems.push(format!("autosave not recovered: {e}")),
        }
    } else if tapes_dir(&plan.patch_path).is_dir() {
        match load_session(&plan.patch_path, rate) {
            Ok(session) => {
                session.load_into(&mut engine);
                start_tapes =
                    (0..engine.track_count()).map(|t| engine.tape(t).unwrap_or(&[]).to_vec()).collect();
            }
            Err(e) => problems.push(format!("saved tapes not loaded: {e}")),
        }
    }
    let tracks = engine.track_count();
    // Every surface registers its command ring before the audio end moves
    // into the processor; from then on the ring count is fixed.
    let mut bridge = Bridge::new(QueueSizes::default());
    let controls = SharedControls::new(tracks);
    let native_midi = settings.native_midi.as_ref().map(|_| Arc::new(Handoff::empty()));
    let native_client = settings.native_midi.clone();
    let mut components = Components::build(
        &mut Setup {
            bridge: &mut bridge,
            options,
            patch: &plan.patch,
            patch_path: &plan.patch_path,
            bindings: &plan.bindings,
            controls: &controls,
            sample_rate: rate,
            track_count: tracks,
            interactive,
            problems: &mut problems,
            native_midi: native_midi.clone(),
            native_client,
        },
        super::surfaces::SURFACES,
    );
    let Bridge { snapshots, input, audio, stats, .. } = bridge;
    let fixed_latency = plan.fixed_latency;
    let score = std::mem::take(&mut plan.score);
    let mut processor =
        LiveProcessor::new(engine, audio, score, settings.block, settings.has_input, fixed_latency);
    if let Some(slot) = native_midi {
        processor = processor.with_midi_router(slot);
    }

    let mut take = None;
    if options.take || options.always_on || interactive {
        let mut config = TakeConfig::new(options.takes_dir.clone(), plan.patch.clone(), rate, tracks);
        config.start_tapes = start_tapes;
        config.rig = take::RigDescription {
            devices: settings.description.clone(),
            input_channel: options.audio.input_channel,
            stats: Some(stats.clone()),
        };
        match take::spawn(config) {
            Ok((feed, handle)) => {
                processor = processor.with_take(feed);
                take = Some(handle);
            }
            Err(e) => problems.push(e),
        }
    }
    let mut autosave = None;
    if options.autosave {
        let (copier, copies) = tape_mirror(&config, rate as f64, DEFAULT_COPY_BUDGET);
        processor = processor.with_copier(copier);
        autosave = Some(AutosaveJob {
            copies: Arc::new(Mutex::new(copies)),
            autosave: Autosave::beside(&plan.patch_path),
            patch: Arc::new(Mutex::new(plan.patch.clone())),
            sample_rate: rate,
        });
    }

    let mut clock_out = None;
    if plan.patch.sync.clock_out && settings.native_midi.is_some() {
        // The native JACK client sends it from its own callback, to the frame.
        processor = processor.with_frame_clock_out();
    } else if plan.patch.sync.clock_out {
        match start_clock_out() {
            Ok((thread, feed)) => {
                processor = processor.with_clock_out(feed);
                clock_out = Some(thread);
            }
            Err(e) => problems.push(e),
        }
    }

    components.start(&mut problems);
    // A port that did not open is a problem of the build, as a failed start is.
    if let Some(e) = components.get::<super::midi_surface::MidiSurface>().and_then(|m| m.last_error()) {
        problems.push(e);
    }
    Run {
        plan,
        processor: Arc::new(Handoff::new(Box::new(processor))),
        input: Arc::new(Handoff::new(Box::new(input))),
        snapshots,
        stats,
        take,
        take_request: None,
        announced_take: None,
        autosave,
        clock: AutosaveClock::new(options.autosave_every),
        last_seen: Vec::new(),
        last_grid: None,
        changed_since: None,
        saving: None,
        save_tapes_to: None,
        components,
        controls,
        take_presses_seen: 0,
        problems,
        _clock_out: clock_out,
    }
}

/// MIDI clock out on its own thread, into the virtual port
/// `ferrotape:clock_out` (the native JACK client sends it itself instead).
fn start_clock_out() -> Result<(crate::sync::ClockThread, crate::sync::ClockFeed), String> {
    // alsa-lib reports a missing sequencer on stderr: keep it in the log.
    let capture = io::stderr::StderrCapture::begin();
    let output = io::midi_port::open_output(None, io::midi_port::CLOCK_OUT_PORT);
    drop(capture);
    let output = output.map_err(|e| format!("clock out: {e}"))?;
    crate::sync::ClockThread::spawn(Box::new(output))
}
