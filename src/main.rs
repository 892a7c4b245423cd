//! The `ferrotape` command: argument parsing and wiring only.

use clap::{Args, Parser, Subcommand};
use ferrotape::io::{parse_backend, AudioOptions, DEFAULT_BUFFER};
use ferrotape::live::{play, LiveOptions, PlayReport, PlayRequest};
use ferrotape::render::{render_files, Latency, RenderRequest, DEFAULT_BLOCK};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "ferrotape",
    version,
    about = "A tape-loop performance instrument for the terminal",
    long_about = "A tape-loop performance instrument for the terminal.\n\n\
        `ferrotape PATCH` plays the patch live on the screen (press ? for the keys);\n\
        `ferrotape play PATCH --no-tui` plays it headless; `ferrotape render` renders offline.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The patch to play on the screen (default: an untitled patch of four free tracks).
    patch: Option<PathBuf>,
    #[command(flatten)]
    audio: AudioArgs,
    #[command(flatten)]
    live: LiveArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Render a patch offline: input recording and timed events in, WAV out.
    /// Given a take folder instead of a patch, render that take again.
    Render {
        /// The patch file (TOML), or a take folder (it holds `take.toml`).
        patch: PathBuf,
        /// Mono or stereo WAV fed to every track's record head (silence without it).
        #[arg(long, value_name = "IN.wav")]
        input: Option<PathBuf>,
        /// Timed events to perform (TOML, `[[event]]` tables).
        #[arg(long, value_name = "EVENTS.toml")]
        events: Option<PathBuf>,
        /// Length of the render in seconds (a take knows its own length).
        #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
        duration: Option<f64>,
        /// The stereo mix to write.
        #[arg(long, value_name = "OUT.wav")]
        out: PathBuf,
        /// Processing block size in frames; never changes the result.
        #[arg(long, value_name = "N", default_value_t = DEFAULT_BLOCK)]
        block: usize,
        /// Also write each track's own output as DIR/track-01.wav, track-02.wav, …
        #[arg(long, value_name = "DIR")]
        stems: Option<PathBuf>,
        /// Sample format of the written files: 16, 24 or 32 (float).
        #[arg(long, value_name = "16|24|32", default_value_t = 32)]
        bits: u16,
        /// Round-trip latency the record heads compensate, ms, as on a live
        /// rig (default 0); the same setting live gives the same render.
        #[arg(long, value_name = "MS", allow_negative_numbers = true, conflicts_with = "latency_frames")]
        latency_ms: Option<f64>,
        /// The same in frames.
        #[arg(long, value_name = "N")]
        latency_frames: Option<u32>,
        /// Threads to render the tracks on (default: one per core); any
        /// number gives the same samples.
        #[arg(long, value_name = "N", default_value_t = 0)]
        threads: usize,
    },
    /// Play a patch live: on the screen, or headless with --no-tui.
    Play {
        /// The patch file (TOML).
        patch: PathBuf,
        /// Run without the screen: events file and MIDI drive it, status lines on stdout.
        #[arg(long)]
        no_tui: bool,
        /// Timed events to perform, from the moment audio starts (TOML, `[[event]]` tables).
        #[arg(long, value_name = "EVENTS.toml")]
        events: Option<PathBuf>,
        /// Stop after this many seconds (default: run until Ctrl-C).
        #[arg(long, value_name = "SECONDS")]
        duration: Option<f64>,
        /// No status lines.
        #[arg(long)]
        quiet: bool,
        #[command(flatten)]
        audio: AudioArgs,
        #[command(flatten)]
        live: Box<LiveArgs>,
    },
    /// List audio hosts and devices (with rates and channels) and MIDI ports.
    Devices,
    /// Validate a patch, events file or MIDI map; exits non-zero with the problem.
    Check {
        /// The file to check.
        path: PathBuf,
        /// With a patch: also check this MIDI map and the two together, as
        /// `play PATCH --midi-map FILE` would load them.
        #[arg(long, value_name = "FILE")]
        midi_map: Option<PathBuf>,
    },
    /// Record a take on a simulated clock in real time (used by the tests
    /// that kill a process mid-take).
    #[command(hide = true)]
    TakeDemo {
        patch: PathBuf,
        #[arg(long)]
        takes: PathBuf,
        #[arg(long, default_value_t = 30.0)]
        seconds: f64,
        /// Frames per WAV segment (default: as many as a WAV holds).
        #[arg(long)]
        segment_frames: Option<u64>,
    },
    /// Try the screen on an engine driven by a timer, without audio.
    #[command(hide = true)]
    TuiDemo {
        /// The patch file (TOML).
        patch: PathBuf,
    },
}

/// Where the sound goes and comes from.
#[derive(Args)]
struct AudioArgs {
    /// `null` runs on a timer with no hardware; `device` (default) uses a sound card or server.
    #[arg(long, value_name = "null|device", default_value = "device")]
    audio: String,
    /// Audio host: alsa, jack (default: jack in builds with the jack feature, else the system's).
    #[arg(long, value_name = "HOST")]
    audio_host: Option<String>,
    /// Output device: an id from `ferrotape devices` (alsa:jack) or part of its name.
    #[arg(long, value_name = "DEVICE")]
    audio_device: Option<String>,
    /// Input device, the same way, or `none` (default: the output device if it records).
    #[arg(long, value_name = "DEVICE")]
    input_device: Option<String>,
    /// Sample rate in Hz (wins over the patch's).
    #[arg(long, value_name = "HZ")]
    sample_rate: Option<u32>,
    /// Frames per audio callback.
    #[arg(long, value_name = "FRAMES", default_value_t = DEFAULT_BUFFER)]
    buffer: u32,
    /// Record only this input channel (1-based; default: the mix of all).
    #[arg(long, value_name = "N")]
    input_channel: Option<u16>,
    /// Round-trip latency to compensate when recording, ms (default: measured from the stream).
    #[arg(long, value_name = "MS")]
    latency_ms: Option<f64>,
    /// Sample format to ask the device for: f32, i16 or i32 (default: the device's).
    #[arg(long, value_name = "FORMAT", value_parser = ferrotape::io::SampleFormatChoice::parse)]
    sample_format: Option<ferrotape::io::SampleFormatChoice>,
    /// Native JACK client (jack builds): the client's name (default ferrotape).
    #[arg(long, value_name = "NAME")]
    jack_name: Option<String>,
    /// Native JACK client: input ports in_1 … in_N, 1-8 (default 1; recorded: their mean, or --input-channel).
    #[arg(long, value_name = "N")]
    inputs: Option<u8>,
    /// Native JACK client: one mono output per track (track_01, track_02, …).
    #[arg(long)]
    track_outputs: bool,
    /// Native JACK client: connect no ports at start.
    #[arg(long)]
    no_connect: bool,
}

/// MIDI, takes and autosave for a live session.
#[derive(Args)]
struct LiveArgs {
    /// Open MIDI inputs whose name contains NAME (repeatable), or `all`.
    #[arg(long = "midi", value_name = "NAME")]
    midi: Vec<String>,
    /// Do not create the ferrotape:midi_in virtual port.
    #[arg(long)]
    no_virtual_midi: bool,
    /// MIDI bindings added to the patch's; learned bindings are saved here (else into the patch).
    #[arg(long, value_name = "FILE")]
    midi_map: Option<PathBuf>,
    /// Learn a binding at start: the next control moved drives TARGET (e.g. dub:1, speed:selected); repeatable.
    #[arg(long, value_name = "TARGET")]
    learn: Vec<String>,
    /// Record a take from the moment audio runs.
    #[arg(long)]
    take: bool,
    /// Always-on takes: the first record or dub starts a take.
    #[arg(long)]
    always_on_take: bool,
    /// Where take folders go.
    #[arg(long, value_name = "DIR", default_value = "takes")]
    takes: PathBuf,
    /// Autosave the tapes beside the patch (.autosave/) every minute and on exit
    /// (always on with the screen).
    #[arg(long)]
    autosave: bool,
    /// Seconds between autosaves (besides one a second after any change).
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    autosave_every: f64,
    /// Continue from the patch's autosave when it is newer than the patch file.
    #[arg(long)]
    recover: bool,
    /// Run the OSC server (SooperLooper-compatible) on this UDP port (default 9951).
    #[arg(long, value_name = "PORT", num_args = 0..=1)]
    osc: Option<Option<u16>>,
    /// Address the OSC server listens on (default 127.0.0.1; others can then play the instrument).
    #[arg(long, value_name = "ADDR")]
    osc_bind: Option<String>,
    /// Where the tempo comes from: none (loops run free), internal, midi (clock in) or jack (transport).
    #[arg(long, value_name = "SOURCE", value_parser = parse_sync_source)]
    sync: Option<ferrotape::engine::SyncSource>,
    /// Tempo in BPM (20 to 300); alone, it starts the internal grid.
    #[arg(long, value_name = "BPM")]
    tempo: Option<f64>,
    /// Beats in a bar (1 to 16).
    #[arg(long, value_name = "N")]
    beats_per_bar: Option<u32>,
    /// Send MIDI clock (24 ppq, start, stop) from the grid.
    #[arg(long)]
    clock_out: bool,
}

fn parse_sync_source(name: &str) -> Result<ferrotape::engine::SyncSource, String> {
    ferrotape::engine::SyncSource::from_name(name)
        .ok_or_else(|| format!("{name}: use one of {}", ferrotape::engine::SyncSource::NAMES.join(", ")))
}

impl LiveArgs {
    fn options(
        self,
        audio: AudioOptions,
        events: Option<PathBuf>,
        screen: bool,
    ) -> Result<LiveOptions, String> {
        if !(0.5..=86_400.0).contains(&self.autosave_every) {
            return Err(format!(
                "--autosave-every {} must be between 0.5 and 86400 seconds",
                self.autosave_every
            ));
        }
        let sync = ferrotape::live::SyncOverrides {
            source: self.sync,
            tempo: self.tempo,
            beats_per_bar: self.beats_per_bar,
            clock_out: self.clock_out,
        };
        sync.validate()?;
        // The native JACK client connects the --midi sources to its midi_in.
        let audio = AudioOptions { midi_sources: self.midi.clone(), ..audio };
        Ok(LiveOptions {
            sync,
            audio,
            midi_ports: self.midi,
            virtual_midi: !self.no_virtual_midi,
            midi_map: self.midi_map,
            events,
            takes_dir: self.takes,
            take: self.take,
            always_on: self.always_on_take,
            autosave: self.autosave || screen,
            autosave_every: std::time::Duration::from_secs_f64(self.autosave_every),
            recover: self.recover,
            osc: ferrotape::osc::OscOptions::from_args(self.osc, self.osc_bind.as_deref())?,
        })
    }
}

impl AudioArgs {
    fn options(self) -> Result<AudioOptions, String> {
        let options = AudioOptions {
            backend: parse_backend(&self.audio)?,
            host: self.audio_host,
            device: self.audio_device,
            input_device: self.input_device,
            sample_rate: self.sample_rate,
            buffer: self.buffer,
            input_channel: self.input_channel,
            latency_ms: self.latency_ms,
            sample_format: self.sample_format,
            jack_name: self.jack_name,
            inputs: self.inputs,
            track_outputs: self.track_outputs,
            no_connect: self.no_connect,
            midi_sources: Vec::new(),
        };
        options.validate()?;
        Ok(options)
    }
}

/// A line on stdout. A reader that went away (`ferrotape play --no-tui | head`)
/// must not stop the instrument, so a failed write is ignored, not a panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// A line on stderr, ignoring a closed stream for the same reason (and so
/// the panic message itself can never panic).
macro_rules! complain {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

fn main() -> ExitCode {
    install_panic_message();
    let cli = Cli::parse();
    let Some(command) = cli.command else {
        let result = cli.audio.options().and_then(|audio| {
            untitled_or(cli.patch).and_then(|patch| play_screen(&patch, cli.live.options(audio, None, true)?))
        });
        return finish(result);
    };
    let result = match command {
        Command::Render { patch, input, events, latency_ms, latency_frames, .. }
            if ferrotape::take::folder::is_take(&patch)
                && (input.is_some() || events.is_some() || latency_ms.is_some() || latency_frames.is_some()) =>
        {
            Err(format!(
                "{} is a take: it carries its own input, events and record latency (give only --out, --stems, --block)",
                patch.display()
            ))
        }
        Command::Render { patch, out, block, stems, .. } if ferrotape::take::folder::is_take(&patch) => {
            ferrotape::take::render_take(&patch, &out, stems.as_deref(), block).map(|report| {
                let seconds = report.frames as f64 / report.sample_rate as f64;
                let how = match &report.not_exact_because {
                    None => "exact replay".to_string(),
                    Some(why) => format!("approximate: {why}"),
                };
                say!(
                    "rendered take {} ({seconds:.1} s, {how}) to {}",
                    patch.display(),
                    report.out.display()
                );
                for stem in &report.stems {
                    say!("  stem {}", stem.display());
                }
            })
        }
        Command::Render {
            patch,
            input,
            events,
            duration,
            out,
            block,
            stems,
            bits,
            latency_ms,
            latency_frames,
            threads,
        } => match duration {
            None => Err("--duration SECONDS is required when rendering a patch".to_string()),
            Some(duration) => {
                let latency = latency_ms.map(Latency::Milliseconds).or(latency_frames.map(Latency::Frames));
                let request = RenderRequest {
                    patch,
                    input,
                    events,
                    duration_s: duration,
                    out,
                    block,
                    stems,
                    bits,
                    latency,
                    threads,
                };
                render_files(&request).map(|report| {
                    let seconds = report.frames as f64 / report.sample_rate as f64;
                    say!(
                        "rendered {seconds:.1} s at {} Hz to {} (peak {:.1} dBFS, RMS {:.1} dBFS, {} events)",
                        report.sample_rate,
                        report.out.display(),
                        report.peak_dbfs,
                        report.rms_dbfs,
                        report.events
                    );
                    for stem in &report.stems {
                        say!("  stem {}", stem.display());
                    }
                    say!(
                        "  {} thread{}, {:.1}× real time",
                        report.threads,
                        if report.threads == 1 { "" } else { "s" },
                        seconds / report.elapsed_s.max(1e-9)
                    );
                    if report.faults > 0 {
                        say!("  note: {} non-finite values were caught and silenced", report.faults);
                    }
                })
            }
        },
        Command::Play { patch, no_tui: false, events, audio, live, .. } => {
            audio.options().and_then(|audio| play_screen(&patch, live.options(audio, events, true)?))
        }
        Command::Play { patch, no_tui: true, events, duration, quiet, audio, live } => {
            audio.options().and_then(|audio| {
                let learn = live.learn.clone();
                let options = live.options(audio, events, false)?;
                let request = PlayRequest { patch, duration_s: duration, quiet, options, learn };
                play(&request, |line| say!("{line}")).map(|r| {
                    if !quiet {
                        say!("{}", report_line(&r));
                    }
                })
            })
        }
        Command::Devices => {
            say!("{}", ferrotape::live::devices_text().trim_end());
            Ok(())
        }
        Command::Check { path, midi_map } => match midi_map {
            None => ferrotape::check::check_file(&path),
            Some(map) => ferrotape::check::check_patch_with_map(&path, &map),
        }
        .map(|summary| say!("{summary}"))
        .map_err(|e| e.to_string()),
        Command::TuiDemo { patch } => ferrotape::tui::demo::run_demo(&patch),
        Command::TakeDemo { patch, takes, seconds, segment_frames } => {
            ferrotape::take::demo::run(&patch, &takes, seconds, segment_frames)
        }
    };
    finish(result)
}

fn finish(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            complain!("ferrotape: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The screen, then one line on how the run went.
fn play_screen(patch: &Path, options: LiveOptions) -> Result<(), String> {
    let report = ferrotape::tui::live_link::play_on_screen(patch, options)?;
    say!("{}", report_line(&report));
    Ok(())
}

fn report_line(r: &PlayReport) -> String {
    format!(
        "played {:.1} s: xruns {}, dropped commands {}, input underruns {}, overruns {}, drift corrections {}, stream errors {}, record latency {} frames ({}), peak load {:.1} %",
        r.seconds, r.xruns, r.dropped_commands, r.input_underruns, r.input_overruns, r.drift_corrections,
        r.stream_errors, r.record_latency_frames, r.latency_source.describe(), r.peak_load_pct
    )
}

/// The patch given, or an untitled one (four free tracks) kept in the state
/// folder, so `ferrotape` alone starts an instrument ready to loop.
fn untitled_or(patch: Option<PathBuf>) -> Result<PathBuf, String> {
    if let Some(patch) = patch {
        return Ok(patch);
    }
    let dir = ferrotape::io::stderr::log_path().parent().map(Path::to_path_buf).unwrap_or_default();
    let path = dir.join("untitled.toml");
    if !path.exists() {
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let track = |length: &str| format!("[[track]]\nlength = {length}\nmax_length = 60.0\n");
        let text = format!(
            "version = 1\nname = \"untitled\"\nseed = 1\nmonitor_db = -120.0\n\n{}\n{}\n{}\n{}",
            track("\"free\""),
            track("\"free\""),
            track("\"free\""),
            track("\"free\"")
        );
        ferrotape::atomic_file::write_atomically(&path, text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(path)
}

/// A bug must still end with one readable line, not a backtrace dump.
fn install_panic_message() {
    std::panic::set_hook(Box::new(|info| {
        if ferrotape::io::realtime::on_realtime_thread() {
            // No printing on the audio thread; the session reports it.
            ferrotape::io::realtime::note_panic(info);
            return;
        }
        let location = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        complain!("ferrotape: internal error{location}: {message} (please report this)");
    }));
}
