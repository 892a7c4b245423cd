//! Measured behaviour of the heads: dub decay, erase, clear, undo and redo.

mod common;

use common::*;
use ferrotape::analysis::{db, peak, rms, sine};
use ferrotape::engine::{Engine, Param, TrackAction};

/// Run an engine directly for `seconds`, with `input` (looped if shorter).
fn run(engine: &mut Engine, input: &[f32], seconds: f64) -> Vec<f32> {
    let frames = at(seconds) as usize;
    let mut out = Vec::with_capacity(frames);
    let (mut left, mut right) = (vec![0.0; 256], vec![0.0; 256]);
    let mut done = 0;
    while done < frames {
        let n = (frames - done).min(256);
        let piece: Vec<f32> =
            (0..n).map(|i| if input.is_empty() { 0.0 } else { input[(done + i) % input.len()] }).collect();
        engine.process(&piece, &mut left[..n], &mut right[..n], &[]);
        out.extend_from_slice(engine.stem(0, n));
        done += n;
    }
    out
}

fn command(engine: &mut Engine, action: TrackAction) {
    engine.apply(act(0, action));
}

#[test]
fn dubbing_keeps_feedback_to_the_power_of_the_pass() {
    let g = 0.8f32;
    let loop_s = 0.5;
    let mut input = vec![0.0f32; at(0.6) as usize];
    input[at(0.25) as usize] = 0.5;
    let score = vec![
        (0, set(0, Param::Feedback, g)),
        (0, act(0, TrackAction::Record)),
        (at(0.55), act(0, TrackAction::Dub)),
    ];
    let out = render(config(vec![clean_track(loop_s)]), &input, &score, 0.55 + 6.0 * loop_s);
    let stem = &out.stems[0];
    // One peak per pass: the largest value in each loop-long window after the dub starts.
    let pass = at(loop_s) as usize;
    let start = at(0.6) as usize;
    let peaks: Vec<f32> = (0..5).map(|k| peak(&stem[start + k * pass..start + (k + 1) * pass])).collect();
    for k in 1..peaks.len() {
        let ratio_db = db((peaks[k] / peaks[k - 1]) as f64);
        let expected_db = db(g as f64);
        eprintln!("dub decay: pass {k}: {ratio_db:.4} dB (feedback 0.8 = {expected_db:.4} dB)");
        assert!(
            (ratio_db - expected_db).abs() < 0.05,
            "pass {k}: {ratio_db:.3} dB, expected {expected_db:.3} dB (peaks {peaks:?})"
        );
    }
}

fn tone_engine(loop_s: f64) -> Engine {
    Engine::new(config(vec![clean_track(loop_s)]), SRF, 256)
}

#[test]
fn erase_mode_wipes_the_loop_as_it_passes() {
    let mut engine = tone_engine(1.0);
    let tone = sine(440.0, 0.5, SRF, at(1.0) as usize);
    command(&mut engine, TrackAction::Record);
    run(&mut engine, &tone, 1.1);
    command(&mut engine, TrackAction::Play);
    let before = rms(&run(&mut engine, &[], 1.0));
    command(&mut engine, TrackAction::Erase);
    run(&mut engine, &tone, 1.1);
    command(&mut engine, TrackAction::Play);
    let after = rms(&run(&mut engine, &[], 1.0));
    assert!(db(before) > -12.0, "recorded level {:.1} dB", db(before));
    assert!(after == 0.0, "after erasing, {:.1} dB remains", db(after));
}

#[test]
fn the_erase_parameter_removes_a_fraction_per_pass() {
    let mut engine = tone_engine(0.5);
    let tone = sine(500.0, 0.5, SRF, at(0.5) as usize);
    command(&mut engine, TrackAction::Record);
    run(&mut engine, &tone, 0.6);
    command(&mut engine, TrackAction::Play);
    run(&mut engine, &[], 0.1);
    engine.apply(set(0, Param::Erase, 0.5));
    let passes: Vec<f64> = (0..4).map(|_| rms(&run(&mut engine, &[], 0.5))).collect();
    // Each pass keeps half: -6 dB per pass once the erase fade is done.
    for k in 2..passes.len() {
        let step = db(passes[k] / passes[k - 1]);
        assert!((step - db(0.5)).abs() < 0.3, "pass {k}: {step:.2} dB");
    }
}

#[test]
fn clear_silences_and_undo_brings_the_tape_back_exactly() {
    let mut engine = tone_engine(1.0);
    let tone = sine(440.0, 0.5, SRF, at(1.0) as usize);
    command(&mut engine, TrackAction::Record);
    run(&mut engine, &tone, 1.2);
    command(&mut engine, TrackAction::Play);
    run(&mut engine, &[], 0.1);
    let recorded = engine.tape(0).unwrap().to_vec();
    command(&mut engine, TrackAction::Clear);
    let after_clear = run(&mut engine, &[], 0.5);
    assert!(engine.tape(0).unwrap().iter().all(|&c| c == 0.0), "tape not blank after clear");
    assert_eq!(rms(&after_clear[at(0.1) as usize..]), 0.0);
    command(&mut engine, TrackAction::Undo);
    let after_undo = run(&mut engine, &[], 0.5);
    assert_eq!(engine.tape(0).unwrap(), &recorded[..], "undo of clear");
    assert!(db(rms(&after_undo[at(0.1) as usize..])) > -12.0);
    command(&mut engine, TrackAction::Redo);
    run(&mut engine, &[], 0.2);
    assert!(engine.tape(0).unwrap().iter().all(|&c| c == 0.0), "redo of clear");
}

#[test]
fn undo_takes_back_the_last_dub_and_redo_reapplies_it() {
    let mut engine = tone_engine(1.0);
    let first = sine(440.0, 0.3, SRF, at(1.0) as usize);
    let second = sine(660.0, 0.3, SRF, at(1.0) as usize);
    command(&mut engine, TrackAction::Record);
    run(&mut engine, &first, 1.0);
    command(&mut engine, TrackAction::Play);
    run(&mut engine, &[], 0.3);
    let after_record = engine.tape(0).unwrap().to_vec();

    command(&mut engine, TrackAction::Dub);
    run(&mut engine, &second, 0.6);
    command(&mut engine, TrackAction::Play);
    run(&mut engine, &[], 0.3);
    let after_dub = engine.tape(0).unwrap().to_vec();
    assert_ne!(after_dub, after_record);

    command(&mut engine, TrackAction::Undo);
    run(&mut engine, &[], 0.2);
    assert_eq!(engine.tape(0).unwrap(), &after_record[..], "undo restores the tape bit for bit");

    command(&mut engine, TrackAction::Redo);
    run(&mut engine, &[], 0.2);
    assert_eq!(engine.tape(0).unwrap(), &after_dub[..], "redo re-applies the dub bit for bit");

    // Undo twice in a row goes back two levels: the dub, then the record.
    command(&mut engine, TrackAction::Undo);
    run(&mut engine, &[], 0.2);
    assert_eq!(engine.tape(0).unwrap(), &after_record[..]);
    command(&mut engine, TrackAction::Undo);
    run(&mut engine, &[], 0.2);
    assert!(engine.tape(0).unwrap().iter().all(|&c| c == 0.0), "the record undone: blank tape");
    command(&mut engine, TrackAction::Redo);
    run(&mut engine, &[], 0.2);
    assert_eq!(engine.tape(0).unwrap(), &after_record[..], "redo re-applies the record");
}

#[test]
fn undo_while_dubbing_stops_and_takes_the_pass_back() {
    let mut engine = tone_engine(0.5);
    command(&mut engine, TrackAction::Record);
    run(&mut engine, &sine(300.0, 0.3, SRF, 24_000), 0.6);
    command(&mut engine, TrackAction::Play);
    run(&mut engine, &[], 0.1);
    let before = engine.tape(0).unwrap().to_vec();
    command(&mut engine, TrackAction::Dub);
    run(&mut engine, &sine(500.0, 0.3, SRF, 24_000), 1.3);
    command(&mut engine, TrackAction::Undo);
    run(&mut engine, &[], 0.1);
    assert_eq!(engine.tape(0).unwrap(), &before[..]);
    assert_eq!(engine.snapshot().tracks[0].mode, ferrotape::engine::HeadMode::Play);
}

#[test]
fn punch_in_and_out_do_not_click() {
    // Dub a steady tone onto silence: the envelope may only ramp, never jump.
    let input = sine(200.0, 0.5, SRF, at(2.0) as usize);
    let score = vec![(at(0.3), act(0, TrackAction::Dub)), (at(0.7), act(0, TrackAction::Play))];
    let out = render(config(vec![clean_track(1.0)]), &input, &score, 2.2);
    let stem = &out.stems[0];
    // Largest sample-to-sample step, relative to the tone's own largest step.
    let tone_step = 2.0 * std::f32::consts::PI * 200.0 / SR as f32 * 0.5;
    let biggest = stem.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0, f32::max);
    assert!(biggest <= tone_step * 1.05, "a step of {biggest} against the tone's {tone_step}");
}

#[test]
fn the_monitor_passes_the_input_at_its_level_and_is_off_by_default() {
    let input = sine(440.0, 0.5, SRF, at(1.0) as usize);
    let silent = render(config(vec![clean_track(1.0)]), &input, &[], 1.0);
    assert_eq!(rms(&silent.left), 0.0, "no monitor unless asked for");
    let mut monitored = config(vec![clean_track(1.0)]);
    monitored.monitor_db = -6.0;
    let out = render(monitored, &input, &[], 1.0);
    // Centre-panned at equal power: each side is the input at -6 dB, -3 dB.
    let level = db(rms(window(&out.left, 0.1, 1.0)) / rms(window(&input, 0.1, 1.0)));
    assert!((level - (-9.0103)).abs() < 0.05, "monitor level {level:.3} dB");
    assert_eq!(rms(&out.stems[0]), 0.0, "the monitor is not part of any stem");
}
