//! [`LiveSession`]: one patch playing on real audio with MIDI, takes and
//! autosave. `play --no-tui` and the screen both drive one.
//!
//! Per patch a [`Run`] holds everything built for one engine: the queues,
//! the processor the audio callback borrows, the take recorder (whose
//! journal starts at the engine's frame 0), the tape copier for autosaves
//! and the MIDI inputs with their bindings. Loading a patch tears the run
//! down (finishing the take) and builds a new one on the same audio backend.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::describe::describe_binding;
use super::flush::{self, FlushState};
use super::keys::KeysSurface;
use super::midi_surface::MidiSurface;
use super::run::{build_run, make_plan, null_options, Run};
use super::{report, PlayReport, RETRY_S};
use crate::bridge::LiveStats;
use crate::engine::{Command, EngineSnapshot};
use crate::io::null::NullBackend;
use crate::io::{self, AudioBackend, AudioOptions, Health, StreamSettings};
use crate::midi_map::{save_learned_binding, MidiBinding, SelectedTrack};
use crate::osc::OscOptions;
use crate::patch::Patch;
use crate::session::LiveTapes;
use crate::take::{TakeHandle, TakeStatus};

mod requests;

/// How long stopping waits for the take writer to close its files.
const FINISH_WAIT: Duration = Duration::from_secs(5);
/// How long after the performer changed something (a mode, a parameter,
/// mute, solo, a loop length) the session is autosaved, besides every
/// `LiveOptions::autosave_every`: a crash then loses at most this.
const SAVE_AFTER_CHANGE: Duration = Duration::from_secs(1);

/// What a live session plays and records.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    pub audio: AudioOptions,
    /// `--midi NAME` (repeatable) or `all`; empty = only the virtual port.
    pub midi_ports: Vec<String>,
    /// Create the `ferrotape:midi_in` virtual port.
    pub virtual_midi: bool,
    /// `--midi-map FILE`: bindings added to the patch's `[[midi]]`; learned
    /// bindings are saved here (else into the patch).
    pub midi_map: Option<PathBuf>,
    /// A score played sample-accurately from the engine's start.
    pub events: Option<PathBuf>,
    /// Where take folders go.
    pub takes_dir: PathBuf,
    /// Start a take as soon as audio runs.
    pub take: bool,
    /// Always-on: the first record or dub starts a take.
    pub always_on: bool,
    /// Autosave the session every `autosave_every`, a second after any
    /// change, and on stop.
    pub autosave: bool,
    /// Time between autosaves while nothing else asks for one.
    pub autosave_every: Duration,
    /// Continue from the patch's newest autosave when it is newer than the
    /// patch file (after a crash or a quit without saving).
    pub recover: bool,
    /// `--osc [PORT]`, `--osc-bind ADDR`: the OSC server, when asked for
    /// here (the patch's `[osc]` table can also ask for it).
    pub osc: Option<OscOptions>,
    /// `--sync`, `--tempo`, `--beats-per-bar`, `--clock-out`: over the patch's `[sync]`.
    pub sync: SyncOverrides,
}

/// What the command line says about the time grid, over the patch's `[sync]`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SyncOverrides {
    pub source: Option<crate::engine::SyncSource>,
    /// BPM.
    pub tempo: Option<f64>,
    pub beats_per_bar: Option<u32>,
    /// Send MIDI clock.
    pub clock_out: bool,
}

impl SyncOverrides {
    /// Check the values (one line naming the flag), as the patch reader would.
    pub fn validate(&self) -> Result<(), String> {
        use crate::engine::grid::{BEATS_PER_BAR_RANGE, TEMPO_RANGE};
        if let Some(bpm) = self.tempo.filter(|t| !TEMPO_RANGE.contains(t)) {
            return Err(format!(
                "--tempo {bpm} is out of range ({} to {} BPM)",
                TEMPO_RANGE.start(),
                TEMPO_RANGE.end()
            ));
        }
        if let Some(n) = self.beats_per_bar.filter(|n| !BEATS_PER_BAR_RANGE.contains(n)) {
            let (lo, hi) = (BEATS_PER_BAR_RANGE.start(), BEATS_PER_BAR_RANGE.end());
            return Err(format!("--beats-per-bar {n} is out of range ({lo} to {hi})"));
        }
        Ok(())
    }

    /// Put these over a patch's `[sync]`.
    pub fn apply(&self, sync: &mut crate::patch::sync_table::SyncTable) {
        if let Some(source) = self.source {
            sync.config.source = source;
        }
        if let Some(tempo) = self.tempo {
            sync.config.tempo_bpm = tempo;
            // A tempo on the command line asks for a grid: the internal one
            // unless a source is named.
            if self.source.is_none() && sync.config.source == crate::engine::SyncSource::None {
                sync.config.source = crate::engine::SyncSource::Internal;
            }
        }
        if let Some(n) = self.beats_per_bar {
            sync.config.beats_per_bar = n;
        }
        sync.clock_out |= self.clock_out;
    }
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            audio: AudioOptions::default(),
            midi_ports: Vec::new(),
            virtual_midi: true,
            midi_map: None,
            events: None,
            takes_dir: PathBuf::from("takes"),
            take: false,
            always_on: false,
            autosave: true,
            autosave_every: crate::session::AUTOSAVE_INTERVAL,
            recover: false,
            osc: None,
            sync: SyncOverrides::default(),
        }
    }
}

/// One patch live: audio, MIDI, takes and autosave. See the module docs.
pub struct LiveSession {
    options: LiveOptions,
    backend: Box<dyn AudioBackend>,
    settings: StreamSettings,
    /// Set once when the session fell back to the null backend.
    fallback: Option<String>,
    device_problem: Option<String>,
    failed_at: Option<Instant>,
    /// The audio callback panicked (a bug): the stream stays stopped.
    faulted: bool,
    take_problem: Option<String>,
    autosave_problem: Option<String>,
    learn_problem: Option<String>,
    warning: Option<String>,
    run: Run,
    learned: VecDeque<String>,
    /// What the last request from a surface came to, for the surfaces.
    last_request: Option<String>,
    /// Component warnings already printed.
    said_warnings: Vec<String>,
}

impl LiveSession {
    /// Open the audio backend, build the engine for `patch_path` and start
    /// playing. `interactive` (the screen): if no device opens and none was
    /// named, run on the null backend with a [`warning`](Self::warning);
    /// headless: fail with the one-line message.
    pub fn start(patch_path: &Path, options: LiveOptions, interactive: bool) -> Result<LiveSession, String> {
        let audio = &options.audio;
        audio.validate()?;
        if audio.buffer == 0 || audio.buffer as usize > io::processor::MAX_CHUNK {
            return Err(format!(
                "--buffer {} must be between 1 and {} frames",
                audio.buffer,
                io::processor::MAX_CHUNK
            ));
        }
        let patch = Patch::load(patch_path).map_err(|e| e.to_string())?;
        let fallback_allowed = io::fall_back_to_null(audio, interactive);
        let mut fallback = None;
        let backend = match io::open_backend(audio, patch.sample_rate) {
            Ok(backend) => backend,
            Err(e) if fallback_allowed => {
                fallback = Some(format!("no audio device ({e}): running on the null backend"));
                Box::new(NullBackend::new(&null_options(audio), patch.sample_rate))
            }
            Err(e) => return Err(e),
        };
        let settings = backend.settings().clone();
        let plan = make_plan(patch_path, &options, settings.sample_rate, true)?;
        let run = build_run(plan, &options, &settings, interactive);
        let mut session = LiveSession {
            options,
            backend,
            settings,
            fallback,
            device_problem: None,
            failed_at: None,
            faulted: false,
            take_problem: None,
            autosave_problem: None,
            learn_problem: None,
            warning: None,
            run,
            learned: VecDeque::new(),
            last_request: None,
            said_warnings: Vec::new(),
        };
        if let Err(e) = session.backend.start(session.run.processor.clone(), session.run.input.clone()) {
            if !fallback_allowed {
                session.shut_down(false);
                return Err(e);
            }
            // Rebuild on the null backend (its rate and block may differ).
            session.backend.stop();
            session.shut_down(false);
            session.backend = Box::new(NullBackend::new(
                &null_options(&session.options.audio),
                Some(session.settings.sample_rate),
            ));
            session.settings = session.backend.settings().clone();
            session.fallback =
                Some(format!("the audio device did not start ({e}): running on the null backend"));
            let plan = make_plan(patch_path, &session.options, session.settings.sample_rate, true)?;
            session.run = build_run(plan, &session.options, &session.settings, interactive);
            session.backend.start(session.run.processor.clone(), session.run.input.clone())?;
        }
        session.after_start();
        session.update_warning();
        // What starting said is already in `warning()`: not said again on the first tick.
        session.said_warnings = session.run.components.statuses().filter_map(|(_, s)| s.warning).collect();
        Ok(session)
    }

    /// Take requests and flush registration once audio runs.
    fn after_start(&mut self) {
        if let Some(take) = &self.run.take {
            take.set_always_on(self.options.always_on);
            if self.options.take {
                take.start();
            }
        }
        let state = FlushState { take: self.run.take.clone(), autosave: self.run.autosave.clone() };
        if let Err(e) = flush::register(state) {
            self.run.problems.push(e);
        }
    }

    /// Call every 20–50 ms: device health and reopening (the tapes
    /// survive), freeing returned engines, saving learned bindings,
    /// autosaving when due, take status. Lines for the performer go to `say`.
    pub fn tick(&mut self, say: &mut dyn FnMut(&str)) {
        self.watch_device(say);
        self.save_learned(say);
        self.autosave_when_due(say);
        // A take button pressed on any surface: each press starts or stops a take.
        let presses = self.run.controls.take_presses.count();
        let new = presses.wrapping_sub(self.run.take_presses_seen);
        self.run.take_presses_seen = presses;
        if new % 2 == 1 {
            let recording = self.toggle_take();
            say(if recording { "take: recording (MIDI)" } else { "take: stopped (MIDI)" });
        }
        self.tick_components(say);
        if let Some(take) = &self.run.take {
            let status = take.status();
            if self.run.take_request.is_some_and(|(wanted, _)| wanted == status.recording) {
                self.run.take_request = None;
            }
            if status.last_error != self.take_problem {
                if let Some(e) = &status.last_error {
                    say(&format!("ferrotape: take: {e} (the performance goes on)"));
                }
                self.take_problem = status.last_error.clone();
            }
            if status.recording && status.folder.is_some() && status.folder != self.run.announced_take {
                self.run.announced_take = status.folder.clone();
                if let Some(folder) = &status.folder {
                    say(&format!("take: recording {}", folder.display()));
                }
            }
        }
        self.update_warning();
    }

    fn watch_device(&mut self, say: &mut dyn FnMut(&str)) {
        if self.faulted {
            return;
        }
        if LiveStats::get(&self.run.stats.engine_faults) > 0 {
            // A bug panicked inside the callback: the engine is no longer
            // run. Stop the stream so the tapes can be read here and saved
            // now; reopening would only play silence.
            let cause = crate::io::realtime::last_fault().unwrap_or_else(|| "unknown cause".into());
            say(&format!(
                "ferrotape: internal error on the audio thread ({cause}); the sound is stopped, the tapes are                  kept and autosaved; restart with --recover (please report this)"
            ));
            self.device_problem = Some(format!("audio stopped by an internal error: {cause}"));
            self.backend.stop();
            self.failed_at = Some(Instant::now());
            self.faulted = true;
            self.run.changed_since = Some(Instant::now() - SAVE_AFTER_CHANGE);
            return;
        }
        match (self.backend.health(), self.failed_at) {
            (Health::Failed(what), None) => {
                say(&format!(
                    "ferrotape: {what}; the tapes are kept, retrying every {RETRY_S} s (or run with --audio null; see `ferrotape devices`)"
                ));
                self.device_problem = Some(format!("audio device lost: {what}"));
                self.backend.stop();
                self.failed_at = Some(Instant::now());
            }
            (_, Some(at)) if at.elapsed().as_secs_f64() >= RETRY_S => {
                self.failed_at = Some(Instant::now());
                let (processor, input) = (self.run.processor.clone(), self.run.input.clone());
                let reopened = self.backend.reopen().and_then(|_| {
                    // The input may come back, or not: it primes and is measured afresh.
                    let has_input = self.backend.settings().has_input;
                    processor.with(|p| p.restart_input(has_input));
                    self.backend.start(processor, input)
                });
                if reopened.is_ok() {
                    self.failed_at = None;
                    self.device_problem = None;
                    say("ferrotape: audio is back");
                }
            }
            _ => {}
        }
    }

    fn save_learned(&mut self, say: &mut dyn FnMut(&str)) {
        while let Some(learned) = self.run.components.get_mut::<MidiSurface>().and_then(|m| m.learned()) {
            let path = self.options.midi_map.clone().unwrap_or_else(|| self.run.plan.patch_path.clone());
            let described = describe_binding(&learned.binding);
            self.run
                .plan
                .bindings
                .retain(|b| !(b.control == learned.binding.control && b.channel == learned.binding.channel));
            self.run.plan.bindings.push(learned.binding);
            match save_learned_binding(&path, &learned) {
                Ok(map) => {
                    if self.options.midi_map.is_none() {
                        // Learned into the patch: what is saved of the
                        // session carries it too, and soon, so the patch
                        // just rewritten is not newer than the last autosave.
                        let tables = map.to_tables();
                        self.run.plan.patch.midi = tables.clone();
                        if let Some(job) = &self.run.autosave {
                            job.patch.lock().unwrap_or_else(|e| e.into_inner()).midi = tables;
                        }
                        self.run.changed_since = Some(Instant::now() - SAVE_AFTER_CHANGE);
                    }
                    self.learn_problem = None;
                    self.learned.push_back(format!("{described}, saved to {}", path.display()));
                }
                Err(e) => {
                    say(&format!("ferrotape: learned {described} but could not save it: {e}"));
                    self.learn_problem = Some(format!("learned binding not saved: {e}"));
                    self.learned.push_back(format!("{described} (not saved)"));
                }
            }
            if !learned.active {
                say("ferrotape: the binding table is full; the learned binding is not active");
            }
        }
    }

    fn autosave_when_due(&mut self, say: &mut dyn FnMut(&str)) {
        let run = &mut self.run;
        if let Some(saving) = run.saving.take() {
            if !saving.is_finished() {
                run.saving = Some(saving);
                return;
            }
            match saving.join() {
                Ok(Ok(_)) => self.autosave_problem = None,
                Ok(Err(e)) => {
                    if self.autosave_problem.as_ref() != Some(&e) {
                        say(&format!("ferrotape: autosave failed: {e}"));
                    }
                    self.autosave_problem = Some(format!("autosave failed: {e}"));
                }
                Err(_) => self.autosave_problem = Some("autosave failed".into()),
            }
        }
        let Some(job) = &run.autosave else { return };
        let now = Instant::now();
        let changed = run.changed_since.is_some_and(|at| now.duration_since(at) >= SAVE_AFTER_CHANGE);
        let wanted = run.save_tapes_to.is_some() || changed || run.clock.due(now);
        let tapes = if self.failed_at.is_some() {
            // The stream is down: nothing copies on the audio side, and the
            // processor is free to be read here.
            if wanted {
                run.processor.with(|p| LiveTapes::of(p.engine()))
            } else {
                None
            }
        } else {
            match job.copies.try_lock() {
                Ok(mut copies) => {
                    if !copies.pending() && wanted {
                        copies.request();
                    }
                    copies.collect()
                }
                Err(_) => None,
            }
        };
        if wanted {
            run.changed_since = None;
        }
        if let Some(tapes) = tapes {
            let (job, rate) = (job.clone(), job.sample_rate);
            let beside = run.save_tapes_to.take();
            // Writing seconds of audio must not hold up the screen.
            run.saving = std::thread::Builder::new()
                .name("autosave".into())
                .spawn(move || {
                    if let Some(path) = beside {
                        crate::session::save_tapes_beside(&path, &tapes.tapes, rate)?;
                    }
                    job.save(&tapes)
                })
                .ok();
        }
    }

    fn update_warning(&mut self) {
        let problem = self.run.problems.first().cloned();
        // A surface's warning (OSC reachable from the network) goes before
        // the null-backend note and the build's problems: it is about who
        // can play the instrument.
        let surface = self.run.components.statuses().find_map(|(_, s)| s.warning);
        self.warning = self
            .device_problem
            .clone()
            .or_else(|| self.take_problem.as_ref().map(|e| format!("take: {e}")))
            .or_else(|| self.autosave_problem.clone())
            .or_else(|| self.learn_problem.clone())
            .or(surface)
            .or_else(|| self.fallback.clone())
            .or(problem);
    }

    /// Keep the tapes beside a patch the screen just saved at `patch_path`
    /// (`mypatch.tapes/`), from the next tape copy (a fraction of a second).
    pub fn save_tapes(&mut self, patch_path: &Path) -> Result<(), String> {
        if self.run.autosave.is_none() {
            return Err("tapes are copied only with autosave on".into());
        }
        self.run.save_tapes_to = Some(patch_path.to_path_buf());
        Ok(())
    }

    /// Make the next audio callback panic, as a bug in it would: how the
    /// fault path is tested on a running session.
    #[doc(hidden)]
    pub fn inject_audio_fault(&self) {
        while self.run.processor.with(|p| p.fail_next_callback()).is_none() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Follow the screen's track selection (MIDI bindings for "selected").
    pub fn select_track(&mut self, track: u8) {
        self.run.controls.selected.set(track);
    }

    /// Queue a command from the screen's keys. False when the queue was full.
    pub fn send(&mut self, command: Command) -> bool {
        self.run.components.get_mut::<KeysSurface>().is_some_and(|keys| keys.send(command))
    }

    /// The newest engine snapshot since the last call.
    pub fn latest_snapshot(&mut self) -> Option<EngineSnapshot> {
        let snapshot = self.run.snapshots.latest()?;
        // What a save writes (and the modes, which change what is on tape):
        // a change to it asks for an autosave soon.
        let seen: Vec<_> = snapshot.tracks().iter().map(|t| (t.mode, t.state())).collect();
        if seen != self.run.last_seen {
            self.run.last_seen = seen;
            self.run.changed_since.get_or_insert_with(Instant::now);
        }
        self.run.last_grid = Some(snapshot.grid);
        self.run.components.observe(&snapshot);
        Some(snapshot)
    }

    pub fn stats(&self) -> &LiveStats {
        &self.run.stats
    }

    /// Rate, block and a description of the devices.
    pub fn settings(&self) -> &StreamSettings {
        &self.settings
    }

    /// What the performer should know: device lost, take or disk error,
    /// MIDI unavailable, running on the null backend. `None` when all is well.
    pub fn warning(&self) -> Option<&str> {
        self.warning.as_deref()
    }

    /// The track MIDI `selected` bindings act on, shared with the screen.
    pub fn selected_track(&self) -> SelectedTrack {
        self.run.controls.selected.clone()
    }

    /// The bindings in force (patch, map file, learned).
    pub fn bindings(&self) -> &[MidiBinding] {
        &self.run.plan.bindings
    }

    /// The patch's `[[midi]]` tables, with what was learned into it since it loaded.
    pub fn patch_midi(&self) -> &[toml::Table] {
        &self.run.plan.patch.midi
    }

    /// The patch file playing.
    pub fn patch_path(&self) -> &Path {
        &self.run.plan.patch_path
    }

    /// A binding just learned (already saved by [`tick`](Self::tick)), described.
    pub fn poll_learned(&mut self) -> Option<String> {
        self.learned.pop_front()
    }

    /// Start a take, or stop the one running. Returns whether a take is
    /// now recording (false also when there is no recorder).
    pub fn toggle_take(&mut self) -> bool {
        let Some(take) = &self.run.take else { return false };
        let reported = take.status().recording;
        // Until the writer reports it, the last request is the state (a
        // request that never shows, e.g. the stream is down, expires).
        let recording = match self.run.take_request {
            Some((wanted, at)) if wanted != reported && at.elapsed() < Duration::from_secs(2) => wanted,
            _ => reported,
        };
        if recording {
            take.stop();
        } else {
            take.start();
        }
        self.run.take_request = Some((!recording, Instant::now()));
        !recording
    }

    pub fn take_status(&self) -> Option<TakeStatus> {
        self.run.take.as_ref().map(TakeHandle::status)
    }

    /// Whether SIGINT or SIGTERM asked the process to stop: the caller
    /// should [`stop`](Self::stop) (which saves) soon.
    pub fn stop_requested(&self) -> bool {
        flush::stop_requested()
    }

    /// Play another patch: the take is finished (and the session
    /// autosaved, if enabled), then a new engine, journal and MIDI bindings
    /// start on the same audio backend (a short gap). On error the current
    /// patch keeps playing.
    pub fn load(&mut self, patch_path: &Path) -> Result<(), String> {
        let plan = make_plan(patch_path, &self.options, self.settings.sample_rate, false)?;
        self.backend.stop();
        self.shut_down(true);
        self.run = build_run(plan, &self.options, &self.settings, true);
        self.take_problem = None;
        if std::mem::take(&mut self.faulted) {
            // A new engine: the fault that stopped the old one is over.
            self.failed_at = None;
            self.device_problem = None;
        }
        let started = self.backend.start(self.run.processor.clone(), self.run.input.clone());
        // A take asked for on the command line covers the first patch only.
        let take = std::mem::replace(&mut self.options.take, false);
        self.after_start();
        self.options.take = take;
        if let Err(e) = started {
            self.device_problem = Some(format!("audio device lost: {e}"));
            self.failed_at = Some(Instant::now());
        }
        self.update_warning();
        Ok(())
    }

    /// Stop: MIDI closes, audio stops, the take is finished (every frame
    /// rendered is written), a final autosave is written if enabled.
    pub fn stop(mut self) -> PlayReport {
        self.backend.stop();
        let rate = self.settings.sample_rate as f64;
        let stats = self.run.stats.clone();
        let faults = self.shut_down(true);
        flush::stopped();
        report(&stats, rate, faults)
    }

    /// Tear the run down (the stream must be stopped): surfaces, take,
    /// autosave. Returns the engine's fault count.
    fn shut_down(&mut self, final_autosave: bool) -> u64 {
        let run = &mut self.run;
        run.components.stop();
        if let Some(take) = &run.take {
            take.stop();
        }
        let processor = run.processor.take_waiting(100);
        let mut faults = 0;
        if let Some(mut processor) = processor {
            processor.flush_take();
            faults = processor.engine_mut().snapshot().faults;
            if let (true, Some(job)) = (final_autosave, &run.autosave) {
                let tapes = LiveTapes::of(processor.engine());
                if let Some(saving) = run.saving.take() {
                    let _ = saving.join();
                }
                if let Err(e) = job.save(&tapes) {
                    // A closed stderr is no reason to panic.
                    std::io::Write::write_fmt(
                        &mut std::io::stderr(),
                        format_args!("ferrotape: autosave failed: {e}\n"),
                    )
                    .ok();
                }
            }
        }
        if let Some(take) = run.take.take() {
            take.finish(FINISH_WAIT);
        }
        if let Some(saving) = run.saving.take() {
            let _ = saving.join();
        }
        faults
    }
}

impl Drop for LiveSession {
    fn drop(&mut self) {
        // `stop` is the way out; this covers an early return or a panic
        // unwinding through the owner.
        if self.run.components.running() || self.run.take.is_some() {
            self.backend.stop();
            self.shut_down(false);
        }
    }
}
