//! The looper's grammar, measured offline: deep undo bit for bit, multiply
//! and insert to the frame, replace and substitute, trigger, oneshot, pause,
//! and the head-distance glide (its pitch bend and final period).

mod common;

use common::*;
use ferrotape::analysis::{db, rms, sine, upward_crossings};
use ferrotape::engine::{Engine, HeadMode, Param, TrackAction, TrackConfig};

/// Run an engine directly for `seconds`, with `input` (silence past its end).
fn run(engine: &mut Engine, input: &[f32], seconds: f64) -> Vec<f32> {
    let frames = at(seconds) as usize;
    let mut out = Vec::with_capacity(frames);
    let (mut left, mut right) = (vec![0.0; 256], vec![0.0; 256]);
    let mut done = 0;
    while done < frames {
        let n = (frames - done).min(256);
        let piece: Vec<f32> = (0..n).map(|i| input.get(done + i).copied().unwrap_or(0.0)).collect();
        engine.process(&piece, &mut left[..n], &mut right[..n], &[]);
        out.extend_from_slice(engine.stem(0, n));
        done += n;
    }
    out
}

fn press(engine: &mut Engine, action: TrackAction) {
    engine.apply(act(0, action));
}

fn engine_with(track: TrackConfig) -> Engine {
    Engine::new(config(vec![track]), SRF, 256)
}

/// A fixed track of `length_s` with room to grow to `max_s`.
fn growing_track(length_s: f64, max_s: f64) -> TrackConfig {
    TrackConfig { max_length: Some(max_s), ..clean_track(length_s) }
}

fn tape(engine: &Engine) -> Vec<f32> {
    engine.tape(0).unwrap().to_vec()
}

/// Record `seconds` of `input` onto a fresh loop, then play a little.
fn record_loop(engine: &mut Engine, input: &[f32], seconds: f64) {
    press(engine, TrackAction::Record);
    run(engine, input, seconds);
    press(engine, TrackAction::Play);
    run(engine, &[], 0.05);
}

#[test]
fn sixteen_levels_of_undo_each_restore_the_tape_bit_for_bit() {
    let mut engine = engine_with(clean_track(1.0));
    record_loop(&mut engine, &sine(220.0, 0.3, SRF, at(1.1) as usize), 1.1);
    let mut history = vec![tape(&engine)];
    for level in 0..16 {
        let tone = sine(300.0 + 37.0 * level as f64, 0.05, SRF, at(0.15) as usize);
        press(&mut engine, TrackAction::Dub);
        run(&mut engine, &tone, 0.15);
        press(&mut engine, TrackAction::Play);
        run(&mut engine, &[], 0.07 + 0.01 * level as f64);
        let now = tape(&engine);
        assert_ne!(&now, history.last().unwrap(), "dub {} changed nothing", level + 1);
        history.push(now);
    }
    assert_eq!(engine.snapshot().tracks[0].undo_levels, 17, "the record and sixteen dubs");
    for level in (0..16).rev() {
        press(&mut engine, TrackAction::Undo);
        run(&mut engine, &[], 0.05);
        assert_eq!(tape(&engine), history[level], "undo back to level {level}");
    }
    let snapshot = engine.snapshot().tracks[0];
    assert_eq!((snapshot.undo_levels, snapshot.redo_levels), (1, 16));
    press(&mut engine, TrackAction::RedoAll);
    run(&mut engine, &[], 0.2);
    assert_eq!(tape(&engine), history[16], "redo_all re-applies every dub");
    press(&mut engine, TrackAction::UndoAll);
    run(&mut engine, &[], 0.3);
    assert!(tape(&engine).iter().all(|&c| c == 0.0), "undo_all goes back to blank tape");
    press(&mut engine, TrackAction::RedoAll);
    run(&mut engine, &[], 0.3);
    assert_eq!(tape(&engine), history[16]);
}

#[test]
fn undo_mb_bounds_the_levels_kept_and_the_oldest_go_first() {
    // 1 MiB is 262 144 cells: the 48 000-cell loop's record and four whole-loop
    // dubs fit; a fifth whole-loop dub makes the record's level go.
    let track = TrackConfig { undo_mb: 1.0, ..clean_track(1.0) };
    let mut engine = engine_with(track);
    record_loop(&mut engine, &sine(220.0, 0.3, SRF, at(1.1) as usize), 1.1);
    let mut history = vec![tape(&engine)];
    for level in 0..5 {
        press(&mut engine, TrackAction::Dub);
        run(&mut engine, &sine(400.0 + 50.0 * level as f64, 0.05, SRF, at(1.2) as usize), 1.2);
        press(&mut engine, TrackAction::Play);
        run(&mut engine, &[], 0.05);
        history.push(tape(&engine));
    }
    let levels = engine.snapshot().tracks[0].undo_levels as usize;
    assert_eq!(levels, 5, "262 144 cells hold five whole-loop levels");
    press(&mut engine, TrackAction::UndoAll);
    run(&mut engine, &[], 0.5);
    assert_eq!(tape(&engine), history[5 - levels], "undo_all stops at the oldest level kept");
}

/// A loop holding a distinct value in every cell: cell i is `marker(i)`.
fn marker(i: usize) -> f32 {
    ((i as f32) * 0.001).sin() * 0.5
}

#[test]
fn multiply_grows_the_loop_to_whole_cycles_and_undo_takes_it_back() {
    // With no latency, and with a real rig's round trip (1 792 frames: the
    // record head a loop-position 37 ms behind the play head).
    for latency in [0, 1792] {
        let cycle = at(0.5) as usize;
        let mut engine = engine_with(growing_track(0.5, 4.0));
        engine.set_record_latency(latency);
        let original: Vec<f32> = (0..cycle).map(marker).collect();
        engine.load_tape(0, &original);
        run(&mut engine, &[], 0.3);
        let before = tape(&engine);
        // Multiply from 0.3 s into the cycle for 0.3 s, dubbing a tone: the
        // record head ends in the second cycle, so the loop becomes two.
        let start = engine.record_position(0).unwrap().floor() as usize;
        press(&mut engine, TrackAction::Multiply);
        assert_eq!(engine.snapshot().tracks[0].mode, HeadMode::Multiply);
        let dubbed = sine(700.0, 0.2, SRF, at(0.3) as usize);
        run(&mut engine, &dubbed, 0.3);
        press(&mut engine, TrackAction::Multiply);
        run(&mut engine, &[], 0.1);
        let snapshot = engine.snapshot().tracks[0];
        assert_eq!(snapshot.mode, HeadMode::Play);
        assert_eq!(snapshot.loop_cells, 2 * cycle, "two whole cycles, to the frame");
        assert_eq!(snapshot.cycle_cells, cycle);
        let grown = tape(&engine);
        // Before the multiply began, the first cycle is as it was; past where it
        // ended, the second cycle is a copy of the first as it was before the
        // multiply, bit for bit (not of what was dubbed onto it).
        let fade = at(0.012) as usize;
        let end = start + at(0.3) as usize;
        assert_eq!(&grown[..start - fade], &original[..start - fade]);
        assert_eq!(&grown[end + fade..], &original[end + fade - cycle..]);
        let dubbed_cells = (0..2 * cycle).filter(|&i| grown[i] != original[i % cycle]).count();
        let expected = at(0.3) as usize;
        assert!(
            dubbed_cells.abs_diff(expected) < at(0.03) as usize,
            "{dubbed_cells} cells dubbed, the multiply lasted {expected}"
        );
        // The output now repeats every two cycles.
        let out = run(&mut engine, &[], 2.5);
        let period = 2 * cycle;
        let a = &out[at(0.2) as usize..at(0.2) as usize + period];
        let b = &out[at(0.2) as usize + period..at(0.2) as usize + 2 * period];
        let worst = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
        assert!(worst < 1e-6, "the grown loop's output differs by {worst} between passes");

        press(&mut engine, TrackAction::Undo);
        run(&mut engine, &[], 0.1);
        assert_eq!(engine.snapshot().tracks[0].loop_cells, cycle);
        assert_eq!(tape(&engine), before, "undo of multiply");
        press(&mut engine, TrackAction::Redo);
        run(&mut engine, &[], 0.1);
        assert_eq!(tape(&engine), grown, "redo of multiply");
    }
}

#[test]
fn insert_puts_whole_cycles_at_the_record_head_and_moves_the_rest_after_them() {
    // With no latency, and with a real rig's round trip (1 792 frames: the
    // record head a loop-position 37 ms behind the play head).
    for latency in [0, 1792] {
        let cycle = at(0.5) as usize;
        let mut engine = engine_with(growing_track(0.5, 3.0));
        engine.set_record_latency(latency);
        let original: Vec<f32> = (0..cycle).map(marker).collect();
        engine.load_tape(0, &original);
        run(&mut engine, &[], 0.2);
        let start = engine.record_position(0).unwrap().floor() as usize;
        press(&mut engine, TrackAction::Insert);
        assert_eq!(engine.snapshot().tracks[0].mode, HeadMode::Insert);
        let new = sine(500.0, 0.25, SRF, at(0.6) as usize);
        let during = run(&mut engine, &new, 0.3);
        assert!(rms(&during[at(0.01) as usize..]) < 1e-6, "the old material is silent while inserting");
        press(&mut engine, TrackAction::Insert);
        // Recording runs on to the end of the cycle.
        run(&mut engine, &new[at(0.3) as usize..], 0.3);
        let snapshot = engine.snapshot().tracks[0];
        assert_eq!(snapshot.mode, HeadMode::Play);
        assert_eq!(snapshot.loop_cells, 2 * cycle, "one cycle inserted, to the frame");
        let grown = tape(&engine);
        // Before the insert point: the loop as it was (apart from the punch-in fade).
        let fade = at(0.012) as usize;
        assert_eq!(&grown[..start - fade], &original[..start - fade]);
        // After the inserted cycle: the rest of the loop, bit for bit, past the punch-out fade.
        assert_eq!(&grown[start + cycle + fade..], &original[start + fade..]);
        // In between: the new material, loud.
        assert!(db(rms(&grown[start + fade..start + cycle - fade])) > -16.0);

        press(&mut engine, TrackAction::Undo);
        run(&mut engine, &[], 0.1);
        assert_eq!(engine.snapshot().tracks[0].loop_cells, cycle);
        assert_eq!(tape(&engine), original, "undo of insert");
    }
}

#[test]
fn replace_silences_the_old_material_and_substitute_lets_it_be_heard() {
    for (action, heard) in [(TrackAction::Replace, false), (TrackAction::Substitute, true)] {
        let mut engine = engine_with(clean_track(1.0));
        engine.load_tape(0, &sine(300.0, 0.4, SRF, at(1.0) as usize));
        run(&mut engine, &[], 0.2);
        press(&mut engine, action);
        let new = sine(900.0, 0.4, SRF, at(0.4) as usize);
        let during = run(&mut engine, &new, 0.4);
        press(&mut engine, action);
        run(&mut engine, &[], 0.05);
        let level = db(rms(&during[at(0.05) as usize..]));
        if heard {
            assert!(level > -12.0, "substitute: the old material at {level:.1} dB");
        } else {
            assert!(level < -100.0, "replace: the old material at {level:.1} dB");
        }
        let snapshot = engine.snapshot().tracks[0];
        assert_eq!(snapshot.loop_cells, at(1.0) as usize, "{action:?} keeps the loop's length");
        assert_eq!(snapshot.mode, HeadMode::Play);
        // The replaced stretch now holds the new tone.
        let after = run(&mut engine, &[], 1.0);
        let cell = engine.play_position(0).unwrap();
        assert!(cell >= 0.0);
        let heard_new = ferrotape::analysis::amplitude_at(&after, 900.0, SRF);
        assert!(heard_new > 0.05, "{action:?}: the new tone at {heard_new}");
    }
}

#[test]
fn trigger_restarts_from_the_top_and_oneshot_plays_once() {
    let mut engine = engine_with(clean_track(0.5));
    // A click 10 ms after the top: trigger fades in over 2 ms.
    let mut clicks = vec![0.0f32; at(0.5) as usize];
    clicks[at(0.01) as usize] = 0.8;
    engine.load_tape(0, &clicks);
    run(&mut engine, &[], 0.3);
    press(&mut engine, TrackAction::Trigger);
    let out = run(&mut engine, &[], 0.1);
    let click = out.iter().position(|x| x.abs() > 0.3).expect("the top of the loop is heard");
    assert!(click < at(0.015) as usize, "the click at the top came {click} frames after trigger");

    press(&mut engine, TrackAction::Oneshot);
    let out = run(&mut engine, &[], 2.0);
    let heard = out.iter().filter(|x| x.abs() > 0.3).count();
    assert_eq!(heard, 1, "oneshot plays the loop once");
    let snapshot = engine.snapshot().tracks[0];
    assert_eq!(snapshot.mode, HeadMode::Paused);
    assert!(snapshot.position < 0.01, "a finished oneshot waits at the top ({})", snapshot.position);
    press(&mut engine, TrackAction::Pause);
    let out = run(&mut engine, &[], 0.05);
    assert!(out.iter().any(|x| x.abs() > 0.3), "resuming plays from the top");
}

#[test]
fn pause_stops_at_once_and_resumes_in_place() {
    let mut track = clean_track(1.0);
    track.params.set(Param::InertiaS, 0.5);
    let mut engine = engine_with(track);
    engine.load_tape(0, &sine(440.0, 0.5, SRF, at(1.0) as usize));
    run(&mut engine, &[], 0.6);
    press(&mut engine, TrackAction::Pause);
    let out = run(&mut engine, &[], 0.5);
    // Silent within the 2 ms gate (the motor would take half a second to stop).
    assert!(rms(&out[at(0.003) as usize..]) == 0.0);
    let paused_at = engine.play_position(0).unwrap();
    run(&mut engine, &[], 0.3);
    assert_eq!(engine.play_position(0).unwrap(), paused_at, "the tape stands still");
    press(&mut engine, TrackAction::Pause);
    let out = run(&mut engine, &[], 0.2);
    // At full speed at once: one sample later the head has moved one cell.
    let moved = engine.play_position(0).unwrap() - paused_at;
    assert!((moved - at(0.2) as f64).abs() < 1.0, "resumed {moved} cells in 0.2 s");
    assert!(db(rms(&out[at(0.01) as usize..])) > -12.0);
}

#[test]
fn changing_the_head_distance_bends_the_pitch_and_ends_on_the_new_period() {
    let f0 = 1000.0;
    for (to_s, bends_down) in [(1.2, true), (0.8, false)] {
        let mut track = clean_track(1.0);
        track.params.set(Param::InertiaS, 0.4);
        track.max_length = Some(2.0);
        let mut engine = engine_with(track);
        engine.load_tape(0, &sine(f0, 0.5, SRF, at(1.0) as usize));
        run(&mut engine, &[], 0.1);
        engine.apply(set(0, Param::Length, to_s as f32));
        let glide = run(&mut engine, &[], 2.0);
        // Within a second the heads have slid by the change: the tone has lost
        // (or gained) f0 × change cycles.
        let crossings = upward_crossings(&glide[..at(1.0) as usize]).len() as f64;
        let expected = f0 * 1.0 + f0 * (1.0 - to_s);
        assert!(
            (crossings - expected).abs() < 3.0,
            "to {to_s} s: {crossings} cycles in 2 s, expected {expected}"
        );
        let early = ferrotape::analysis::frequency(&glide[at(0.05) as usize..at(0.15) as usize], SRF);
        assert_eq!(early < f0, bends_down, "to {to_s} s the pitch went to {early:.1} Hz");
        let snapshot = engine.snapshot().tracks[0];
        assert_eq!(snapshot.loop_cells, at(to_s) as usize, "the new length, to the frame");
        // Afterwards the output repeats with exactly the new period.
        let out = run(&mut engine, &[], 3.0 * to_s);
        let period = at(to_s) as usize;
        let a = &out[..period];
        let b = &out[period..2 * period];
        let worst = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
        assert!(worst < 1e-5, "to {to_s} s: passes differ by {worst}");
    }
}

#[test]
fn a_shortened_loop_keeps_what_lies_beyond_and_plays_it_when_it_grows_again() {
    let mut engine = engine_with(clean_track(1.0));
    let original: Vec<f32> = (0..at(1.0) as usize).map(marker).collect();
    engine.load_tape(0, &original);
    run(&mut engine, &[], 0.1);
    engine.apply(set(0, Param::Length, 0.6));
    run(&mut engine, &[], 1.0);
    assert_eq!(engine.snapshot().tracks[0].loop_cells, at(0.6) as usize);
    engine.apply(set(0, Param::Length, 1.0));
    run(&mut engine, &[], 0.5);
    assert_eq!(tape(&engine), original, "nothing was lost");
}

#[test]
fn an_events_file_drives_the_grammar_by_name() {
    let text = r#"
[[event]]
at = 0.0
track = 1
do = "record"

[[event]]
at = 0.5
track = 1
do = "play"

[[event]]
at = 0.7
track = 1
do = "multiply"

[[event]]
at = 1.1
track = 1
do = "multiply"

[[event]]
at = 1.5
track = 1
do = "undo_all"

[[event]]
at = 1.8
track = 1
do = "redo_all"
"#;
    let events = ferrotape::events::EventList::parse(text, std::path::Path::new("grammar.events.toml"))
        .expect("the grammar's names parse");
    let score: Vec<_> = events.frames(SRF).collect();
    let track =
        TrackConfig { length: ferrotape::engine::TapeLength::Free { max_seconds: 3.0 }, ..clean_track(1.0) };
    let mut engine = engine_with(track);
    let input = sine(440.0, 0.3, SRF, at(2.5) as usize);
    let mut lengths = Vec::new();
    let mut next = 0;
    for step in 0..25 {
        let until = at(0.1 * (step + 1) as f64);
        while next < score.len() && score[next].0 < until {
            engine.apply(score[next].1);
            next += 1;
        }
        let from = at(0.1 * step as f64) as usize;
        run(&mut engine, &input[from..], 0.1);
        lengths.push(engine.snapshot().tracks[0].loop_cells);
    }
    // The take closes a loop of about 0.5 s; the multiply (from 0.7 s for
    // 0.4 s, past the cycle's end) doubles it; undo_all forgets the length; redo_all brings it back.
    let take = lengths[6];
    assert!(take.abs_diff(at(0.5) as usize) < 100, "first take {take}");
    assert_eq!(lengths[13], 2 * take, "after the multiply");
    assert_eq!(lengths[16], at(3.0) as usize, "undo_all leaves a free track waiting");
    assert!(engine.snapshot().tracks[0].mode == HeadMode::Play);
    assert_eq!(lengths[24], 2 * take, "redo_all");
}

#[test]
fn undo_or_reverse_during_a_multiply_end_it_on_whole_cycles() {
    let cycle = at(0.5) as usize;
    for interrupt in [TrackAction::Undo, TrackAction::Reverse] {
        let mut engine = engine_with(growing_track(0.5, 4.0));
        let original: Vec<f32> = (0..cycle).map(marker).collect();
        engine.load_tape(0, &original);
        run(&mut engine, &[], 0.3);
        press(&mut engine, TrackAction::Multiply);
        run(&mut engine, &sine(700.0, 0.2, SRF, at(0.6) as usize), 0.6);
        press(&mut engine, interrupt);
        run(&mut engine, &[], 0.2);
        let snapshot = engine.snapshot().tracks[0];
        assert_eq!(snapshot.mode, HeadMode::Play, "{interrupt:?}");
        if interrupt == TrackAction::Undo {
            assert_eq!(snapshot.loop_cells, cycle, "undo takes the multiply back");
            assert_eq!(tape(&engine), original);
        } else {
            assert_eq!(snapshot.loop_cells, 2 * cycle, "reverse keeps the cycles reached");
        }
    }
}
