//! Renders a minute of one fully featured track, for profilers.
//! `cargo run --release --example profile_engine [tracks] [dubbing] [speed] [plain]`
//! (`plain`: every model off, as `bench/live-cpu/ft16-plain.toml`)
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
    let start = std::time::Instant::now();
    let blocks = 48_000 * 60 / 256;
    for _ in 0..blocks {
        engine.process(&input, &mut l, &mut r, &[]);
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{tracks} tracks ({dubbing} dubbing): 60 s of audio in {seconds:.3} s, real-time factor {:.0}",
        60.0 / seconds
    );
}
