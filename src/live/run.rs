//! One engine's worth of a live session: a [`Plan`] (the patch, its
//! bindings and score, checked) and the [`Run`] built from it — queues,
//! processor, take recorder, tape copier and MIDI inputs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use super::flush::AutosaveJob;
use super::session::LiveOptions;
use crate::bridge::{Bridge, CommandSender, InputWriter, LiveStats, QueueSizes, SnapshotReceiver};
use crate::engine::{Command, Engine};
use crate::events::EventList;
use crate::io::midi::{MidiInputConfig, MidiInputs, PortSelection, DEFAULT_POLL};
use crate::io::{self, AudioOptions, Handoff, LiveProcessor, StreamSettings};
use crate::midi_map::{
    learn_channel, ActivityMonitor, LearnControl, MidiBinding, MidiMap, MidiRouter, SelectedTrack,
};
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
    pub(super) screen: CommandSender,
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
    pub(super) changed_since: Option<Instant>,
    pub(super) saving: Option<JoinHandle<Result<PathBuf, String>>>,
    /// A patch just saved from the screen whose tapes go beside it with the
    /// next tape copy.
    pub(super) save_tapes_to: Option<PathBuf>,
    /// Take start/stop presses from MIDI, and how many were acted on.
    pub(super) take_presses: Option<crate::midi_map::router::TakePresses>,
    pub(super) take_presses_seen: u32,
    pub(super) midi: Option<MidiInputs>,
    pub(super) learn: Option<LearnControl>,
    pub(super) activity: Option<ActivityMonitor>,
    pub(super) selected: SelectedTrack,
    /// Problems found while building (MIDI, take recorder, saved tapes).
    pub(super) problems: Vec<String>,
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

/// Build the engine, queues, recorder, copier and MIDI for a plan. Nothing
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
    let Bridge { screen, midi: midi_sender, snapshots, input, audio, stats, .. } =
        Bridge::new(QueueSizes::default());
    let fixed_latency = plan.fixed_latency;
    let score = std::mem::take(&mut plan.score);
    let mut processor =
        LiveProcessor::new(engine, audio, score, settings.block, settings.has_input, fixed_latency);

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

    let selected = SelectedTrack::new(tracks);
    let (mut midi, mut learn, mut activity, mut take_presses) = (None, None, None, None);
    if options.virtual_midi || !options.midi_ports.is_empty() {
        let (control, endpoint) = learn_channel();
        let router = MidiRouter::new(&plan.bindings, selected.clone()).with_learn(endpoint);
        let monitor = router.activity();
        let presses = router.take_presses();
        let config = MidiInputConfig {
            ports: PortSelection::from_args(&options.midi_ports),
            virtual_port: options.virtual_midi,
            poll: DEFAULT_POLL,
        };
        // alsa-lib reports a missing sequencer on stderr: keep it in the log.
        let capture = io::stderr::StderrCapture::begin();
        let started = MidiInputs::start(config, router, Box::new(midi_sender));
        drop(capture);
        match started {
            Ok(inputs) => {
                if let Some(e) = inputs.status().last_error {
                    problems.push(e);
                }
                midi = Some(inputs);
                learn = Some(control);
                activity = Some(monitor);
                take_presses = Some(presses);
            }
            Err(e) => problems.push(e),
        }
    }
    Run {
        plan,
        processor: Arc::new(Handoff::new(Box::new(processor))),
        input: Arc::new(Handoff::new(Box::new(input))),
        screen,
        snapshots,
        stats,
        take,
        take_request: None,
        announced_take: None,
        autosave,
        clock: AutosaveClock::new(options.autosave_every),
        last_seen: Vec::new(),
        changed_since: None,
        saving: None,
        save_tapes_to: None,
        take_presses,
        take_presses_seen: 0,
        midi,
        learn,
        activity,
        selected,
        problems,
    }
}
