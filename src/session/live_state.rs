//! The patch as it is playing: the loaded patch with every track's live
//! parameters, mute, solo and loop length written in, so a save (autosave,
//! the flush on a signal, the screen's save) brings back what was playing,
//! not the file that was loaded.

use crate::engine::grid::TEMPO_RANGE;
use crate::engine::track::seconds_to_cells;
use crate::engine::{GridState, Param, SyncSource, TapeLength, TrackState};
use crate::patch::Patch;

/// `base` with the live state of each track. `sample_rate` turns loop
/// lengths in cells into seconds (and is written into the patch, so they
/// read back to the cell). A fixed track keeps the tape it had: a loop
/// shortened live is saved as its length, the tape as `max_length`. A free
/// track's loop length is its saved tape's length, so it stays free. With
/// the grid, an internal tempo changed live (tapped, set) is kept too.
pub fn live_patch(base: &Patch, states: &[TrackState], grid: Option<&GridState>, sample_rate: u32) -> Patch {
    let mut patch = base.clone();
    patch.sample_rate = Some(sample_rate);
    let rate = f64::from(sample_rate);
    if let Some(grid) = grid.filter(|g| g.source == SyncSource::Internal) {
        // To a thousandth of a BPM: what a person tapped, not float noise.
        let tempo = (grid.tempo_bpm(rate) * 1000.0).round() / 1000.0;
        patch.sync.config.tempo_bpm = tempo.clamp(*TEMPO_RANGE.start(), *TEMPO_RANGE.end());
    }
    // A length the patch already gives to the cell is kept as it was written.
    let seconds = |cells: usize, written: Option<f64>| match written {
        Some(s) if seconds_to_cells(s, rate) == cells => s,
        _ => cells as f64 / rate,
    };
    for (track, state) in patch.tracks.iter_mut().zip(states) {
        for param in Param::ALL.into_iter().filter(|&p| p != Param::Length) {
            track.params.set(param, state.params.get(param));
        }
        track.mute = state.muted;
        track.solo = state.soloed;
        if let TapeLength::Fixed(written) = track.length {
            let length = seconds(state.loop_cells, Some(written));
            track.length = TapeLength::Fixed(length);
            track.params.set(Param::Length, length as f32);
            let tape = seconds(state.capacity_cells, Some(track.tape_seconds()));
            track.max_length = (state.capacity_cells > state.loop_cells).then_some(tape);
        }
    }
    patch
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Command, Engine, TrackAction};
    use std::path::Path;

    #[test]
    fn a_live_patch_reads_back_to_the_same_engine_state() {
        let text = "version = 1\n[[track]]\nlength = 2.0\n[[track]]\nlength = \"free\"\nmax_length = 5.0\n";
        let base = Patch::parse(text, Path::new("live.toml")).unwrap();
        let mut engine = Engine::new(base.engine_config(), 48_000.0, 64);
        for command in [
            Command::Set { track: 0, param: Param::Speed, value: 0.5 },
            Command::Set { track: 0, param: Param::Feedback, value: 0.3 },
            Command::Set { track: 0, param: Param::Length, value: 1.25 },
            Command::Track { track: 1, action: TrackAction::Mute },
            Command::Track { track: 0, action: TrackAction::Solo },
        ] {
            engine.apply(command);
        }
        let states: Vec<_> = (0..2).map(|t| engine.track_state(t).unwrap()).collect();
        let saved = live_patch(&base, &states, None, 48_000);
        let again = Patch::parse(&saved.to_toml(), Path::new("live.toml")).unwrap();
        assert_eq!(again, saved);
        let rebuilt = Engine::new(again.engine_config(), 48_000.0, 64);
        for (t, state) in states.iter().enumerate() {
            assert_eq!(rebuilt.track_state(t).as_ref(), Some(state), "track {}", t + 1);
        }
    }

    #[test]
    fn a_tempo_tapped_live_is_saved() {
        let text = "version = 1\n[sync]\nsource = \"internal\"\ntempo = 120\n[[track]]\nlength = 2.0\n";
        let base = Patch::parse(text, Path::new("live.toml")).unwrap();
        let mut engine = Engine::new(base.engine_config(), 48_000.0, 64);
        let tap = Command::Track { track: 0, action: TrackAction::Tap };
        let (mut left, mut right) = ([0.0f32; 64], [0.0f32; 64]);
        // Taps 0.6 s apart: 100 BPM.
        for _ in 0..3 {
            engine.process(
                &[],
                &mut left,
                &mut right,
                &[crate::engine::TimedCommand { offset: 0, command: tap }],
            );
            for _ in 0..(28_800 - 64) / 64 {
                engine.process(&[], &mut left, &mut right, &[]);
            }
        }
        let states: Vec<_> = (0..1).map(|t| engine.track_state(t).unwrap()).collect();
        let patch = live_patch(&base, &states, Some(&engine.grid()), 48_000);
        assert_eq!(patch.sync.config.tempo_bpm, 100.0);
        let again = Patch::parse(&patch.to_toml(), Path::new("live.toml")).unwrap();
        assert_eq!(again.sync, patch.sync);
    }
}
