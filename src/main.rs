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
    },
    /// Validate a patch or events file; exits non-zero with the problem.
    Check {
        /// The file to check.
        path: PathBuf,
    },
}

fn main() -> ExitCode {
    install_panic_message();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Render { patch, out, block, stems, .. } if ferrotape::take::folder::is_take(&patch) => {
            ferrotape::take::render_take(&patch, &out, stems.as_deref(), block).map(|report| {
                let seconds = report.frames as f64 / report.sample_rate as f64;
                let how = if report.exact {
                    "exact replay"
                } else {
                    "approximate: the session journal is missing or incomplete"
                };
                println!(
                    "rendered take {} ({seconds:.1} s, {how}) to {}",
                    patch.display(),
                    report.out.display()
                );
                for stem in &report.stems {
                    println!("  stem {}", stem.display());
                }
            })
        }
        Command::Render { patch, input, events, duration, out, block, stems, bits } => match duration {
            None => Err("--duration SECONDS is required when rendering a patch".to_string()),
            Some(duration) => {
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
        },
        Command::TakeDemo { patch, takes, seconds } => ferrotape::take::demo::run(&patch, &takes, seconds),
        Command::Check { path } => ferrotape::check::check_file(&path)
            .map(|summary| println!("{summary}"))
            .map_err(|e| e.to_string()),
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
