//! The patch's `[sync]` table: the time grid's source, tempo and bar, the
//! loop `quantize = "loop"` follows, and MIDI clock out.

use super::reader::{fields, float_f64, unknown_key, Field, Source};
use crate::engine::grid::{SyncConfig, SyncSource, BEATS_PER_BAR_RANGE, TEMPO_RANGE};
use crate::file_error::FileError;
use std::fmt::Write as _;
use toml::de::DeValue;

/// Keys of `[sync]`, in the order the patch format documents them.
pub const SYNC_KEYS: [&str; 7] =
    ["source", "tempo", "beats_per_bar", "sync_track", "clock_out", "clock_from", "clock_beats"];

/// Beats a `clock_from` loop may be.
pub const CLOCK_BEATS_RANGE: std::ops::RangeInclusive<f64> = 1.0..=256.0;

/// What `[sync]` holds.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct SyncTable {
    pub config: SyncConfig,
    /// Send MIDI clock (24 ppq, start, stop) from the grid.
    pub clock_out: bool,
}

impl SyncTable {
    /// `[sync]` as TOML; nothing when every value is the default.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        if *self == SyncTable::default() {
            return out;
        }
        let c = &self.config;
        // `write!` into a String cannot fail.
        let _ = writeln!(out, "\n[sync]");
        let _ = writeln!(out, "source = \"{}\"", c.source.name());
        let _ = writeln!(out, "tempo = {}", float_f64(c.tempo_bpm));
        let _ = writeln!(out, "beats_per_bar = {}", c.beats_per_bar);
        let _ = writeln!(out, "sync_track = {}", c.sync_track + 1);
        let _ = writeln!(out, "clock_out = {}", self.clock_out);
        if let Some((track, beats)) = c.clock_from {
            let _ = writeln!(out, "clock_from = {}", track + 1);
            let _ = writeln!(out, "clock_beats = {}", float_f64(beats));
        }
        out
    }
}

/// Read `[sync]`. `tracks`: how many tracks the patch has (checked by the
/// caller once they are all read, see [`check_tracks`]).
pub(crate) fn read_sync_table(source: &Source<'_>, field: &Field<'_, '_>) -> Result<SyncTable, FileError> {
    let DeValue::Table(table) = field.value else {
        return Err(source.error(&field.key_span, field.wrong_type(source, "a [sync] table")));
    };
    let mut sync = SyncTable::default();
    let mut clock_from = None;
    let mut clock_beats = None;
    for f in fields(table) {
        let err = |m: String| source.error(&f.key_span, format!("sync: {m}"));
        match f.key {
            "source" => {
                let allowed = SyncSource::NAMES.join(", ");
                let name = f.string(source, &format!("a sync source ({allowed})")).map_err(err)?;
                sync.config.source = SyncSource::from_name(name).ok_or_else(|| {
                    err(format!("{} is not a sync source (allowed: {allowed})", f.quoted(source)))
                })?;
            }
            "tempo" => {
                let (lo, hi) = (TEMPO_RANGE.start(), TEMPO_RANGE.end());
                let bpm = f.number(source, &format!("a tempo in BPM ({lo} to {hi})")).map_err(err)?;
                if !TEMPO_RANGE.contains(&bpm) {
                    return Err(err(format!("{} is out of range ({lo} to {hi} BPM)", f.quoted(source))));
                }
                sync.config.tempo_bpm = bpm;
            }
            "beats_per_bar" => {
                let (lo, hi) = (BEATS_PER_BAR_RANGE.start(), BEATS_PER_BAR_RANGE.end());
                let expected = format!("a whole number of beats ({lo} to {hi})");
                let n = f.integer(source, &expected).map_err(err)?;
                let n = u32::try_from(n)
                    .ok()
                    .filter(|n| BEATS_PER_BAR_RANGE.contains(n))
                    .ok_or_else(|| err(format!("{} is out of range ({expected})", f.quoted(source))))?;
                sync.config.beats_per_bar = n;
            }
            "sync_track" => sync.config.sync_track = track_number(source, &f).map_err(err)?,
            "clock_out" => sync.clock_out = f.boolean(source).map_err(err)?,
            "clock_from" => clock_from = Some(track_number(source, &f).map_err(err)?),
            "clock_beats" => {
                let (lo, hi) = (CLOCK_BEATS_RANGE.start(), CLOCK_BEATS_RANGE.end());
                let beats = f.number(source, &format!("beats the loop is ({lo} to {hi})")).map_err(err)?;
                if !CLOCK_BEATS_RANGE.contains(&beats) {
                    return Err(err(format!("{} is out of range ({lo} to {hi} beats)", f.quoted(source))));
                }
                clock_beats = Some((beats, f.key_span.clone()));
            }
            other => return Err(err(unknown_key(other, &SYNC_KEYS))),
        }
    }
    match (clock_from, clock_beats) {
        (Some(track), Some((beats, _))) => sync.config.clock_from = Some((track, beats)),
        (Some(_), None) => {
            return Err(source
                .error(&field.key_span, "sync: clock_from needs clock_beats (how many beats its loop is)"))
        }
        (None, Some((_, span))) => {
            return Err(
                source.error(&span, "sync: clock_beats goes with clock_from (the track whose loop it is)")
            )
        }
        (None, None) => {}
    }
    Ok(sync)
}

/// A 1-based track number in a `[sync]` key, as a 0-based index.
fn track_number(source: &Source<'_>, f: &Field<'_, '_>) -> Result<usize, String> {
    let expected = format!("a track number (1 to {})", crate::engine::MAX_TRACKS);
    let n = f.integer(source, &expected)?;
    usize::try_from(n - 1)
        .ok()
        .filter(|i| *i < crate::engine::MAX_TRACKS)
        .ok_or_else(|| format!("{} is out of range ({expected})", f.quoted(source)))
}

/// The tracks `[sync]` names must exist.
pub(crate) fn check_tracks(sync: &SyncTable, tracks: usize) -> Result<(), String> {
    let named = [Some(sync.config.sync_track), sync.config.clock_from.map(|(t, _)| t)];
    for (key, track) in ["sync_track", "clock_from"].into_iter().zip(named) {
        if let Some(track) = track.filter(|t| *t >= tracks) {
            return Err(format!(
                "sync: {key} = {} names a track the patch does not have ({tracks})",
                track + 1
            ));
        }
    }
    Ok(())
}
