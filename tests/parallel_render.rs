//! An offline render on several threads gives the samples a single-threaded
//! render gives, bit for bit: tracks are independent until the mixer. On one
//! thread the tracks tick two at a time, their tape reads side by side; on
//! sixteen each ticks alone, so the same test proves the pairs change nothing.

mod common;

use common::*;
use ferrotape::analysis::sine;
use ferrotape::engine::{
    Command, Engine, EngineConfig, Param, Quality, TapeLength, TrackAction, TrackConfig,
};
use ferrotape::render::render_engine;

/// Sixteen tracks with the whole model, some dubbing, one of them the loop
/// the others quantize to, speeds changing, latency set.
fn scene() -> (EngineConfig, Vec<(u64, Command)>) {
    let tracks: Vec<TrackConfig> = (0..16)
        .map(|i| {
            let length = if i == 0 {
                TapeLength::Free { max_seconds: 4.0 }
            } else {
                TapeLength::Fixed(0.6 + 0.13 * i as f64)
            };
            let mut track = TrackConfig { length, ..TrackConfig::default() };
            whole_model(&mut track);
            track.params.set(Param::Pan, -0.8 + 0.1 * i as f32);
            if i >= 12 {
                // Presses on these wait for the first track's loop to come round.
                track.params.set(Param::Quantize, 3.0);
            }
            track
        })
        .collect();
    let mut score = vec![(0, Command::RecordLatency { frames: 700 }), (at(0.1), act(0, TrackAction::Record))];
    for t in 1..16u8 {
        score.push((at(0.05 * t as f64), act(t, TrackAction::Record)));
    }
    score.push((at(1.1), act(0, TrackAction::Play)));
    for t in 1..16u8 {
        let action = if t % 4 == 0 { TrackAction::Dub } else { TrackAction::Play };
        score.push((at(1.2 + 0.01 * t as f64), act(t, action)));
    }
    score.push((at(1.6), set(3, Param::Speed, 3.7)));
    score.push((at(1.7), set(5, Param::Speed, -0.6)));
    score.push((at(2.0), act(13, TrackAction::Mute)));
    score.push((at(2.2), act(8, TrackAction::Undo)));
    score.sort_by_key(|e| e.0);
    (EngineConfig { seed: 11, quality: Quality::Full, tracks, ..EngineConfig::default() }, score)
}

fn render(threads: usize, block: usize) -> (Vec<f32>, Vec<Vec<f32>>) {
    let (config, score) = scene();
    let mut engine = Engine::new(config, SRF, block);
    engine.set_render_threads(threads);
    assert_eq!(engine.render_threads(), threads);
    let input: Vec<f32> = sine(330.0, 0.5, SRF, at(3.0) as usize);
    let mut mix = Vec::new();
    let mut stems = vec![Vec::new(); 16];
    render_engine(&mut engine, &input[..], &score, at(3.0), block, |b| {
        for (l, r) in b.left.iter().zip(b.right) {
            mix.extend([*l, *r]);
        }
        for (t, stem) in stems.iter_mut().enumerate() {
            stem.extend_from_slice(b.stem(t));
        }
    });
    (mix, stems)
}

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn threads_and_blocks_never_change_a_sample() {
    let (mix, stems) = render(1, 256);
    assert!(mix.iter().any(|&x| x.abs() > 0.01), "the scene plays");
    for (threads, block) in [(2, 4096), (3, 1000), (16, 4096), (4, 777)] {
        let (other_mix, other_stems) = render(threads, block);
        assert_eq!(bits(&mix), bits(&other_mix), "mix on {threads} threads, blocks of {block}");
        for t in 0..16 {
            assert_eq!(bits(&stems[t]), bits(&other_stems[t]), "track {} on {threads} threads", t + 1);
        }
    }
}
