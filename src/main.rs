//! The `ferrotape` command: argument parsing and wiring only.

use clap::{Parser, Subcommand};
use ferrotape::render::{render_files, RenderRequest, DEFAULT_BLOCK};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "ferrotape", version, about = "A tape-loop performance instrument for the terminal")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render a patch offline: input recording and timed events in, WAV out.
    Render {
        /// The patch file (TOML).
        patch: PathBuf,
        /// Mono or stereo WAV fed to every track's record head (silence without it).
        #[arg(long, value_name = "IN.wav")]
        input: Option<PathBuf>,
        /// Timed events to perform (TOML, `[[event]]` tables).
        #[arg(long, value_name = "EVENTS.toml")]
        events: Option<PathBuf>,
        /// Length of the render in seconds.
        #[arg(long, value_name = "SECONDS")]
        duration: f64,
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
    },
    /// Validate a patch or events file; exits non-zero with the problem.
    Check {
        /// The file to check.
        path: PathBuf,
    },
    /// Try the screen on an engine driven by a timer, without audio.
    #[command(hide = true)]
    TuiDemo {
        /// The patch file (TOML).
        patch: PathBuf,
    },
}

fn main() -> ExitCode {
    install_panic_message();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Render { patch, input, events, duration, out, block, stems, bits } => {
            let request =
                RenderRequest { patch, input, events, duration_s: duration, out, block, stems, bits };
            render_files(&request).map(|report| {
                let seconds = report.frames as f64 / report.sample_rate as f64;
                println!(
                    "rendered {seconds:.1} s at {} Hz to {} (peak {:.1} dBFS, RMS {:.1} dBFS, {} events)",
                    report.sample_rate,
                    report.out.display(),
                    report.peak_dbfs,
                    report.rms_dbfs,
                    report.events
                );
                for stem in &report.stems {
                    println!("  stem {}", stem.display());
                }
                if report.faults > 0 {
                    println!("  note: {} non-finite values were caught and silenced", report.faults);
                }
            })
        }
        Command::Check { path } => ferrotape::check::check_file(&path)
            .map(|summary| println!("{summary}"))
            .map_err(|e| e.to_string()),
        Command::TuiDemo { patch } => ferrotape::tui::demo::run_demo(&patch),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ferrotape: {message}");
            ExitCode::FAILURE
        }
    }
}

/// A bug must still end with one readable line, not a backtrace dump.
fn install_panic_message() {
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        eprintln!("ferrotape: internal error{location}: {message} (please report this)");
    }));
}
