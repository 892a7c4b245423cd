//! Latency compensation: with a round trip of L frames the record head
//! writes L cells earlier, exactly, at any block size.

mod common;

use common::*;
use ferrotape::analysis::sine;
use ferrotape::engine::{Engine, TimedCommand, TrackAction};

/// Record one pass of a tone at blocks of `block`, return the tape.
fn record(latency: u32, block: usize) -> Vec<f32> {
    let mut engine = Engine::new(config(vec![clean_track(0.25)]), SRF, block);
    engine.set_record_latency(latency);
    let input = sine(431.0, 0.5, SRF, at(0.4) as usize);
    let (mut left, mut right) = (vec![0.0; block], vec![0.0; block]);
    let mut done = 0;
    engine.apply(act(0, TrackAction::Record));
    while done < input.len() {
        let n = (input.len() - done).min(block);
        let stop = at(0.3) as usize;
        let commands = if (done..done + n).contains(&stop) {
            vec![TimedCommand { offset: (stop - done) as u32, command: act(0, TrackAction::Play) }]
        } else {
            Vec::new()
        };
        engine.process(&input[done..done + n], &mut left[..n], &mut right[..n], &commands);
        done += n;
    }
    engine.tape(0).unwrap().to_vec()
}

#[test]
fn recorded_material_sits_exactly_latency_cells_earlier() {
    let plain = record(0, 256);
    for latency in [1u32, 100, 480] {
        let shifted = record(latency, 256);
        let len = plain.len();
        // Cells the punch fades touched differ; compare the steady middle of the take.
        for cell in 2000..len - 2000 {
            let expected = plain[(cell + latency as usize) % len];
            assert_eq!(shifted[cell], expected, "latency {latency}: cell {cell}");
        }
    }
}

#[test]
fn compensation_is_block_size_invariant() {
    let reference = record(333, 256);
    for block in [1, 64, 4096] {
        assert_eq!(record(333, block), reference, "block {block}");
    }
}
