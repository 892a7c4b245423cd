//! One hour of audio through four tracks using every feature: silence,
//! a loud input, and storms of random commands. The output must stay finite,
//! within full scale and free of subnormal numbers, and so must the tapes.
//!
//! Long: run it in release mode, `cargo test --release --test soak -- --ignored`.

mod common;

use common::*;
use ferrotape::analysis::has_subnormals;
use ferrotape::engine::noise::Rng;
use ferrotape::engine::{
    Command, Engine, EngineConfig, Param, SaturationModel, TapeLength, TimedCommand, ToneModel, TrackAction,
    TrackConfig,
};

const BLOCK: usize = 512;

fn soak_config() -> EngineConfig {
    let tracks = (0..4)
        .map(|i| {
            let mut track = TrackConfig {
                length: if i == 3 {
                    TapeLength::Free { max_seconds: 20.0 }
                } else {
                    TapeLength::Fixed(1.3 + 2.1 * i as f64)
                },
                saturation: [SaturationModel::Hysteresis, SaturationModel::Soft][i % 2],
                tone: ToneModel::Tape,
                ..TrackConfig::default()
            };
            track.params.set(Param::HissDb, -70.0);
            track.params.set(Param::Age, 0.05);
            track.params.set(Param::DriftPct, 0.5);
            track
        })
        .collect();
    EngineConfig { seed: 2024, tracks, ..EngineConfig::default() }
}

fn random_command(rng: &mut Rng) -> Command {
    let track = (rng.next_u64() % 4) as u8;
    if rng.uniform() < 0.5 {
        let action = TrackAction::ALL[(rng.next_u64() % TrackAction::ALL.len() as u64) as usize];
        act(track, action)
    } else {
        let param = Param::ALL[(rng.next_u64() % Param::ALL.len() as u64) as usize];
        let spec = param.spec();
        // Mostly in range, sometimes far outside it.
        let value = spec.min + (rng.uniform() as f32 * 1.4 - 0.2) * (spec.max - spec.min);
        let value = if param == Param::Length { value.min(8.0) } else { value };
        set(track, param, value)
    }
}

#[test]
#[ignore = "an hour of audio: run in release mode"]
fn an_hour_of_silence_and_command_storms_stays_finite_bounded_and_denormal_free() {
    let mut engine = Engine::new(soak_config(), SRF, BLOCK);
    let mut rng = Rng::new(5);
    let (mut left, mut right) = (vec![0.0f32; BLOCK], vec![0.0f32; BLOCK]);
    let mut input = vec![0.0f32; BLOCK];
    let mut timed = Vec::with_capacity(64);
    let blocks = at(3600.0) as usize / BLOCK;
    let mut worst = 0.0f32;
    for block in 0..blocks {
        let minute = block * BLOCK / (SR as usize * 60);
        // Odd minutes: a storm of commands over a loud, noisy input. Even: silence.
        timed.clear();
        if minute % 2 == 1 && rng.uniform() < 0.2 {
            for _ in 0..(rng.next_u64() % 8) {
                timed.push(TimedCommand {
                    offset: (rng.next_u64() % BLOCK as u64) as u32,
                    command: random_command(&mut rng),
                });
            }
            timed.sort_by_key(|c| c.offset);
        }
        for x in input.iter_mut() {
            *x = if minute % 2 == 1 { rng.bipolar() as f32 * 1.5 } else { 0.0 };
        }
        engine.process(&input, &mut left, &mut right, &timed);
        for &v in left.iter().chain(&right) {
            assert!(v.is_finite() && v.abs() <= 1.0, "block {block}: output {v}");
            worst = worst.max(v.abs());
        }
        assert!(!has_subnormals(&left) && !has_subnormals(&right), "block {block}: subnormal output");
        if block % (blocks / 12) == 0 || block == blocks - 1 {
            for track in 0..4 {
                let tape = engine.tape(track).unwrap();
                assert!(tape.iter().all(|c| c.is_finite()), "minute {minute}: track {track} tape not finite");
                assert!(!has_subnormals(tape), "minute {minute}: track {track} tape holds subnormals");
            }
        }
    }
    assert!(worst > 0.01, "the soak was silent throughout");
    println!("soak: 3600 s, loudest sample {worst:.3}, faults {}", engine.snapshot().faults);
}
