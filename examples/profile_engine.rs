//! Renders a minute of fully featured tracks (one unless told), for profilers.
//! `cargo run --release --example profile_engine [tracks] [dubbing] [speed] [plain] [paced [spin]]`
//! (`plain`: every model off, as `bench/live-cpu/ft16-plain.toml`; `paced`:
//! 20 s of 256-frame blocks at the pace of a live callback instead, and what
//! each block took: a block after a pause costs more than one run back to
//! back; `spin`: wait in a loop instead of sleeping)
use ferrotape::analysis::sine;
use ferrotape::engine::*;

fn main() {
    let args: Vec<f64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let tracks = args.first().map_or(1, |&n| n as usize);
    let dubbing = args.get(1).map_or(0, |&n| n as usize);
    let speed = args.get(2).copied().unwrap_or(1.0) as f32;
    let plain = std::env::args().any(|a| a == "plain");
    let mut config = EngineConfig { monitor_db: -120.0, ..EngineConfig::default() };
    config.tracks = (0..tracks)
        .map(|i| {
            let mut t = TrackConfig { length: TapeLength::Fixed(3.0 + i as f64), ..TrackConfig::default() };
            let models = [
                (Param::DriveDb, 6.0),
                (Param::WowPct, 0.3),
                (Param::DriftPct, 0.2),
                (Param::HissDb, -70.0),
                (Param::Age, 0.02),
            ];
            let off = [
                (Param::DriveDb, 0.0),
                (Param::WowPct, 0.0),
                (Param::FlutterPct, 0.0),
                (Param::DriftPct, 0.0),
                (Param::HissDb, -120.0),
                (Param::Age, 0.0),
            ];
            for (p, v) in if plain { &off[..] } else { &models[..] } {
                t.params.set(*p, *v);
            }
            t.params.set(Param::Speed, speed);
            if plain {
                t.saturation = SaturationModel::Off;
                t.tone = ToneModel::Flat;
            }
            t
        })
        .collect();
    let mut engine = Engine::new(config, 48_000.0, 256);
    let input = sine(220.0, 0.5, 48_000.0, 256);
    let (mut l, mut r) = ([0.0f32; 256], [0.0f32; 256]);
    // Two seconds on tape first, as a performer's loops would have.
    for t in 0..tracks as u8 {
        engine.apply(Command::Track { track: t, action: TrackAction::Record });
    }
    for _ in 0..48_000 * 2 / 256 {
        engine.process(&input, &mut l, &mut r, &[]);
    }
    for t in 0..tracks as u8 {
        let action = if (t as usize) < dubbing { TrackAction::Dub } else { TrackAction::Play };
        engine.apply(Command::Track { track: t, action });
    }
    if std::env::args().any(|a| a == "paced") {
        // Blocks at the pace of a live callback, sleeping in between (`spin`:
        // waiting in a loop instead, so the core never idles).
        let spin = std::env::args().any(|a| a == "spin");
        let blocks = 48_000 * 20 / 256;
        let period = std::time::Duration::from_secs_f64(256.0 / 48_000.0);
        let (cpu, start) = (process_cpu_seconds(), std::time::Instant::now());
        let mut busy = std::time::Duration::ZERO;
        for n in 1..=blocks {
            let began = std::time::Instant::now();
            engine.process(&input, &mut l, &mut r, &[]);
            busy += began.elapsed();
            let due = start + period * n;
            while spin && std::time::Instant::now() < due {}
            if let Some(wait) = due.checked_duration_since(std::time::Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let share = (process_cpu_seconds() - cpu) / start.elapsed().as_secs_f64();
        println!(
            "{tracks} tracks ({dubbing} dubbing), paced: {:.1} us per block, {:.2} % of a core in all",
            busy.as_secs_f64() / blocks as f64 * 1e6,
            share * 100.0
        );
        return;
    }
    let start = std::time::Instant::now();
    let blocks = 48_000 * 60 / 256;
    for _ in 0..blocks {
        engine.process(&input, &mut l, &mut r, &[]);
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{tracks} tracks ({dubbing} dubbing): 60 s of audio in {seconds:.3} s, real-time factor {:.0}, {:.1} us per block",
        60.0 / seconds,
        seconds / blocks as f64 * 1e6
    );
}

/// User and system time of this process so far, seconds (Linux: from
/// `/proc/self/stat`, in clock ticks of 1/100 s; 0 elsewhere).
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after ')'.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}
