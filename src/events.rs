//! Timed-event files: a score to render offline, and the control log a take
//! writes, in one format so any live take can be rendered again.
//!
//! ```toml
//! [[event]]
//! at = 0.0        # seconds from the start
//! track = 1       # 1-based
//! do = "record"   # a TrackAction name
//!
//! [[event]]
//! at = 4.0
//! track = 1
//! set = "speed"   # a Param key
//! to = 0.5        # or `by = -0.1` for a relative nudge
//!
//! [[event]]       # an engine setting: no track
//! at = 0.0
//! set = "record_latency_frames"
//! to = 1792
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::engine::grid::TEMPO_RANGE;
use crate::engine::{Command, GridCommand, Param, TrackAction, MAX_RECORD_LATENCY, MAX_TRACKS};
use crate::file_error::FileError;
use crate::patch::array_of_tables;
use crate::patch::reader::{did_you_mean, fields, float_f32, float_f64, unknown_key, Field, Source};

/// Keys an `[[event]]` table accepts.
pub const EVENT_KEYS: [&str; 9] = ["at", "track", "do", "set", "to", "by", "grid", "beat", "frames_per_beat"];

/// `set` names of settings that belong to the whole engine (an event
/// without `track`), besides the per-track [`Param`] keys.
pub const RECORD_LATENCY_KEY: &str = "record_latency_frames";
/// `set = "tempo"`: the internal tempo in BPM, for the whole engine.
pub const TEMPO_KEY: &str = "tempo";

/// One command at one moment.
#[derive(Clone, Copy, Debug)]
pub struct Event {
    /// Seconds from the start of the render or take; finite and >= 0.
    pub at: f64,
    /// What happens; its track index is 0-based.
    pub command: Command,
    /// The line of the event's `[[event]]` header when it was read from a
    /// file, so later checks (against a patch) can still point at it.
    pub line: Option<usize>,
}

impl Event {
    /// An event made in memory (a take being logged), not read from a file.
    pub fn new(at: f64, command: Command) -> Event {
        Event { at, command, line: None }
    }
}

/// Two events are the same when they do the same thing at the same time;
/// where they were read from does not matter.
impl PartialEq for Event {
    fn eq(&self, other: &Event) -> bool {
        self.at == other.at && self.command == other.command
    }
}

/// Events sorted by time; events at the same time keep their file order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventList {
    /// Where the list was read from or will be written to; errors name it.
    pub path: PathBuf,
    pub events: Vec<Event>,
}

impl EventList {
    /// A list from events in any order; sorts them stably by time.
    pub fn new(path: &Path, mut events: Vec<Event>) -> EventList {
        events.sort_by(|a, b| a.at.total_cmp(&b.at));
        EventList { path: path.to_path_buf(), events }
    }

    pub fn load(path: &Path) -> Result<EventList, FileError> {
        let text = std::fs::read_to_string(path).map_err(|err| FileError::cannot_read(path, &err))?;
        EventList::parse(&text, path)
    }

    /// Validate events text. An empty file is an empty list.
    pub fn parse(text: &str, path: &Path) -> Result<EventList, FileError> {
        let source = Source::new(text, path);
        let root = source.parse()?;
        let mut events = Vec::new();
        for field in fields(root.get_ref()) {
            if field.key != "event" {
                return Err(source.error(&field.key_span, top_level_message(field.key)));
            }
            for (table, header) in array_of_tables(&source, &field)? {
                events.push(read_event(&source, table, &header)?);
            }
        }
        Ok(EventList::new(path, events))
    }

    /// Check that every event names a track the patch has.
    pub fn check_tracks(&self, track_count: usize) -> Result<(), FileError> {
        let plural = if track_count == 1 { "" } else { "s" };
        let beyond = |event: &&Event| event.command.track().is_some_and(|t| usize::from(t) >= track_count);
        match self.events.iter().find(beyond) {
            Some(event) => Err(FileError::new(
                &self.path,
                event.line,
                format!(
                    "track = {} does not exist; the patch has {track_count} track{plural}",
                    event.command.track().map_or(0, |t| usize::from(t) + 1)
                ),
            )),
            None => Ok(()),
        }
    }

    /// The list in the file format; [`EventList::parse`] reads it back equal.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        for (index, event) in self.events.iter().enumerate() {
            if index > 0 {
                out.push('\n');
            }
            // `write!` into a String cannot fail.
            let _ = writeln!(out, "[[event]]");
            let _ = writeln!(out, "at = {}", float_f64(event.at));
            if let Some(track) = event.command.track() {
                let _ = writeln!(out, "track = {}", u32::from(track) + 1);
            }
            match event.command {
                Command::Track { action, .. } => {
                    let _ = writeln!(out, "do = \"{}\"", action.name());
                }
                Command::Set { param, value, .. } => match param.choice_name(value) {
                    Some(name) if value.fract() == 0.0 => {
                        let _ = writeln!(out, "set = \"{}\"\nto = \"{name}\"", param.key());
                    }
                    _ => {
                        let _ = writeln!(out, "set = \"{}\"\nto = {}", param.key(), float_f32(value));
                    }
                },
                Command::Nudge { param, delta, .. } => {
                    let _ = writeln!(out, "set = \"{}\"\nby = {}", param.key(), float_f32(delta));
                }
                Command::RecordLatency { frames } => {
                    let _ = writeln!(out, "set = \"{RECORD_LATENCY_KEY}\"\nto = {frames}");
                }
                Command::Grid(GridCommand::Tempo { bpm }) => {
                    let _ = writeln!(out, "set = \"{TEMPO_KEY}\"\nto = {}", float_f64(bpm));
                }
                Command::Grid(GridCommand::Position { beat, frames_per_beat }) => {
                    let _ = writeln!(
                        out,
                        "grid = \"position\"\nbeat = {}\nframes_per_beat = {}",
                        float_f64(beat),
                        float_f64(frames_per_beat)
                    );
                }
                Command::Grid(GridCommand::Stop) => {
                    let _ = writeln!(out, "grid = \"stop\"");
                }
                Command::Grid(GridCommand::Tap) => {
                    let _ = writeln!(out, "grid = \"tap\"");
                }
            }
        }
        out
    }

    /// Each command with the frame it lands on: `round(at * sample_rate)`,
    /// so an event is sample-accurate whatever block size renders it.
    pub fn frames(&self, sample_rate: f64) -> impl Iterator<Item = (u64, Command)> + '_ {
        // `as` saturates: a negative or NaN product becomes frame 0.
        self.events.iter().map(move |event| ((event.at * sample_rate).round() as u64, event.command))
    }
}

fn top_level_message(key: &str) -> String {
    if EVENT_KEYS.contains(&key) {
        format!("`{key}` belongs to an event; put it after an [[event]] header")
    } else {
        unknown_key(key, &["event"])
    }
}

fn action_names() -> Vec<&'static str> {
    TrackAction::ALL.iter().map(|a| a.name()).collect()
}

/// What `set` accepts: every track parameter, then the engine settings.
fn param_keys() -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = Param::ALL.iter().map(|p| p.key()).collect();
    keys.push(RECORD_LATENCY_KEY);
    keys.push(TEMPO_KEY);
    keys
}

/// "; did you mean "x"?" or nothing.
fn hint(word: &str, names: &[&str]) -> String {
    did_you_mean(word, names).map(|near| format!("; did you mean \"{near}\"?")).unwrap_or_default()
}

fn read_event(
    source: &Source<'_>,
    table: &toml::de::DeTable<'_>,
    header: &std::ops::Range<usize>,
) -> Result<Event, FileError> {
    let err = |field: &Field<'_, '_>, message: String| source.error(&field.key_span, message);
    let mut at = None;
    let mut track = None;
    let mut action: Option<(TrackAction, std::ops::Range<usize>)> = None;
    let mut param: Option<(Param, std::ops::Range<usize>)> = None;
    // `set = "record_latency_frames"`: an engine setting, not a track parameter.
    let mut latency: Option<std::ops::Range<usize>> = None;
    // `set = "tempo"`: the internal tempo.
    let mut tempo: Option<std::ops::Range<usize>> = None;
    // `grid = "position" | "stop" | "tap"`: what a sync source told the grid.
    let mut grid: Option<(&str, std::ops::Range<usize>)> = None;
    let mut beat: Option<(f64, &Field<'_, '_>)> = None;
    let mut frames_per_beat: Option<(f64, &Field<'_, '_>)> = None;
    let mut to: Option<(f64, &Field<'_, '_>)> = None;
    let mut to_name: Option<(&str, &Field<'_, '_>)> = None;
    let mut by: Option<(f64, &Field<'_, '_>)> = None;
    let event_fields = fields(table);
    for field in &event_fields {
        match field.key {
            "at" => {
                let seconds =
                    field.number(source, "seconds from the start (0 or more)").map_err(|m| err(field, m))?;
                if seconds < 0.0 {
                    return Err(err(
                        field,
                        format!("{} is negative; times count from 0", field.quoted(source)),
                    ));
                }
                at = Some(seconds);
            }
            "track" => {
                let expected = format!("a track number (1 to {MAX_TRACKS})");
                let number = field.integer(source, &expected).map_err(|m| err(field, m))?;
                let index = u8::try_from(number - 1)
                    .ok()
                    .filter(|index| usize::from(*index) < MAX_TRACKS)
                    .ok_or_else(|| {
                        err(
                            field,
                            format!(
                                "{} is out of range (tracks are numbered 1 to {MAX_TRACKS})",
                                field.quoted(source)
                            ),
                        )
                    })?;
                track = Some(index);
            }
            "do" => {
                let names = action_names();
                let allowed = names.join(", ");
                let name = field
                    .string(source, &format!("an action name ({allowed})"))
                    .map_err(|m| err(field, m))?;
                let Some(found) = TrackAction::from_name(name) else {
                    let message = format!(
                        "{} is not an action{} (allowed: {allowed})",
                        field.quoted(source),
                        hint(name, &names)
                    );
                    return Err(err(field, message));
                };
                action = Some((found, field.key_span.clone()));
            }
            "set" => {
                let keys = param_keys();
                let allowed = keys.join(", ");
                let key = field
                    .string(source, &format!("a parameter name ({allowed})"))
                    .map_err(|m| err(field, m))?;
                if key == RECORD_LATENCY_KEY {
                    latency = Some(field.key_span.clone());
                    continue;
                }
                if key == TEMPO_KEY {
                    tempo = Some(field.key_span.clone());
                    continue;
                }
                let Some(found) = Param::from_key(key) else {
                    let message = format!(
                        "{} is not a parameter{} (allowed: {allowed})",
                        field.quoted(source),
                        hint(key, &keys)
                    );
                    return Err(err(field, message));
                };
                param = Some((found, field.key_span.clone()));
            }
            "to" => {
                // A stepped parameter's value may be given by name (`to = "bar"`).
                let value = match field.value {
                    toml::de::DeValue::String(_) => {
                        let name = field.string(source, "a value name").map_err(|m| err(field, m))?;
                        to_name = Some((name, field));
                        0.0
                    }
                    _ => field.number(source, "a number").map_err(|m| err(field, m))?,
                };
                to = Some((value, field));
            }
            "by" => by = Some((field.number(source, "a number").map_err(|m| err(field, m))?, field)),
            "grid" => {
                let allowed = GRID_EVENTS.join(", ");
                let name =
                    field.string(source, &format!("a grid event ({allowed})")).map_err(|m| err(field, m))?;
                if !GRID_EVENTS.contains(&name) {
                    let message = format!(
                        "{} is not a grid event{} (allowed: {allowed})",
                        field.quoted(source),
                        hint(name, &GRID_EVENTS)
                    );
                    return Err(err(field, message));
                }
                grid = Some((name, field.key_span.clone()));
            }
            "beat" => {
                beat = Some((field.number(source, "beats since bar 1").map_err(|m| err(field, m))?, field))
            }
            "frames_per_beat" => {
                let value = field.number(source, "frames per beat").map_err(|m| err(field, m))?;
                frames_per_beat = Some((value, field));
            }
            key => return Err(err(field, unknown_key(key, &EVENT_KEYS))),
        }
    }

    let missing = |what: &str| source.error(header, format!("this event has no {what}"));
    let at = at.ok_or_else(|| missing("`at` (seconds from the start)"))?;
    let engine_set = |set_span| EngineSet {
        source,
        set_span,
        has_track: track.is_some(),
        has_action: action.is_some(),
        to,
        by,
    };
    if let Some(span) = latency {
        let command = engine_set(&span).latency()?;
        return Ok(Event { at, command, line: Some(source.line(header)) });
    }
    if let Some(span) = tempo {
        let command = engine_set(&span).tempo()?;
        return Ok(Event { at, command, line: Some(source.line(header)) });
    }
    if let Some((name, span)) = grid {
        let command =
            read_grid(source, name, &span, track.is_some() || action.is_some(), beat, frames_per_beat)?;
        return Ok(Event { at, command, line: Some(source.line(header)) });
    }
    if let Some((_, field)) = beat.or(frames_per_beat) {
        return Err(err(field, format!("`{}` only goes with `grid = \"position\"`", field.key)));
    }
    let track = track.ok_or_else(|| missing(&format!("`track` (1 to {MAX_TRACKS})")))?;
    let command = match (action, param) {
        (Some(_), Some((_, set_span))) => {
            return Err(source.error(
                &set_span,
                "an event has either `do` (an action) or `set` (a parameter), not both; split it into two events",
            ));
        }
        (None, None) => return Err(missing("`do = \"action\"` or `set = \"parameter\"`")),
        (Some((action, _)), None) => {
            if let Some((_, field)) = to.or(by) {
                return Err(err(field, format!("`{}` only goes with `set`, not with `do`", field.key)));
            }
            Command::Track { track, action }
        }
        (None, Some((param, set_span))) => match (to, by) {
            (Some(_), Some((_, by_field))) => {
                return Err(err(
                    by_field,
                    "use either `to` (absolute) or `by` (relative), not both".to_string(),
                ));
            }
            (None, None) => {
                return Err(source.error(
                    &set_span,
                    format!("set = \"{}\" needs `to = value` or `by = amount`", param.key()),
                ));
            }
            (Some((value, field)), None) => {
                let spec = param.spec();
                let value = match to_name {
                    Some((name, field)) => {
                        let choices = param.choices();
                        let Some(value) = param.choice_value(name) else {
                            let message = if choices.is_empty() {
                                format!("{} is a name, but {} takes a number", field.quoted(source), spec.key)
                            } else {
                                format!(
                                    "{} is not a value of {} (allowed: {})",
                                    field.quoted(source),
                                    spec.key,
                                    choices.join(", ")
                                )
                            };
                            return Err(err(field, message));
                        };
                        value
                    }
                    None => value as f32,
                };
                if !param.contains(value) {
                    return Err(err(
                        field,
                        format!(
                            "{} is out of range for {} ({} to {})",
                            field.quoted(source),
                            spec.key,
                            spec.min,
                            spec.max
                        ),
                    ));
                }
                Command::Set { track, param, value }
            }
            (None, Some((delta, field))) => {
                // A nudge larger than the whole range cannot mean anything
                // a clamp would not; it is almost certainly a typo.
                let spec = param.spec();
                let delta = delta as f32;
                if delta.abs() > spec.max - spec.min {
                    return Err(err(
                        field,
                        format!(
                            "{} is more than the whole range of {} ({} to {})",
                            field.quoted(source),
                            spec.key,
                            spec.min,
                            spec.max
                        ),
                    ));
                }
                Command::Nudge { track, param, delta }
            }
        },
    };
    Ok(Event { at, command, line: Some(source.line(header)) })
}

/// What `grid = "..."` accepts.
const GRID_EVENTS: [&str; 3] = ["position", "stop", "tap"];

/// What an engine-wide `set` (no `track`) was given.
struct EngineSet<'s, 'f, 't, 'i> {
    source: &'s Source<'s>,
    set_span: &'s std::ops::Range<usize>,
    has_track: bool,
    has_action: bool,
    to: Option<(f64, &'f Field<'t, 'i>)>,
    by: Option<(f64, &'f Field<'t, 'i>)>,
}

impl<'f, 't, 'i> EngineSet<'_, 'f, 't, 'i> {
    /// The `to` of `set = "key"`: no `do`, no `track`, no `by`. `unit`
    /// names what `to` is in (`frames`, `BPM`).
    fn value(&self, key: &str, unit: &str) -> Result<(f64, &'f Field<'t, 'i>), FileError> {
        let fail = |message: String| Err(self.source.error(self.set_span, message));
        if self.has_action {
            return fail(
                "an event has either `do` (an action) or `set`, not both; split it into two events".into(),
            );
        }
        if self.has_track {
            return fail(format!("{key} is set for the whole engine, not for one track; remove `track`"));
        }
        if let Some((_, field)) = self.by {
            return Err(self.source.error(&field.key_span, format!("{key} takes `to = {unit}`, not `by`")));
        }
        match self.to {
            Some(to) => Ok(to),
            None => fail(format!("set = \"{key}\" needs `to = {unit}`")),
        }
    }

    /// `set = "tempo"`: BPM within [`TEMPO_RANGE`].
    fn tempo(&self) -> Result<Command, FileError> {
        let (bpm, field) = self.value(TEMPO_KEY, "BPM")?;
        if !TEMPO_RANGE.contains(&bpm) {
            let (lo, hi) = (TEMPO_RANGE.start(), TEMPO_RANGE.end());
            let message =
                format!("{} is out of range for {TEMPO_KEY} ({lo} to {hi} BPM)", field.quoted(self.source));
            return Err(self.source.error(&field.key_span, message));
        }
        Ok(Command::Grid(GridCommand::Tempo { bpm }))
    }

    /// `set = "record_latency_frames"`: a whole number of frames.
    fn latency(&self) -> Result<Command, FileError> {
        let (frames, field) = self.value(RECORD_LATENCY_KEY, "frames")?;
        if frames.fract() != 0.0 || !(0.0..=f64::from(MAX_RECORD_LATENCY)).contains(&frames) {
            let message = format!(
                "{} is not allowed for {RECORD_LATENCY_KEY}: a whole number of frames from 0 to {MAX_RECORD_LATENCY}",
                field.quoted(self.source)
            );
            return Err(self.source.error(&field.key_span, message));
        }
        Ok(Command::RecordLatency { frames: frames as u32 })
    }
}

/// `grid = "position"` (with `beat` and `frames_per_beat`), `"stop"` or `"tap"`.
fn read_grid(
    source: &Source<'_>,
    name: &str,
    span: &std::ops::Range<usize>,
    has_track_or_action: bool,
    beat: Option<(f64, &Field<'_, '_>)>,
    frames_per_beat: Option<(f64, &Field<'_, '_>)>,
) -> Result<Command, FileError> {
    if has_track_or_action {
        return Err(
            source.error(span, "a grid event is for the whole engine: no `track` or `do`".to_string())
        );
    }
    let command = match name {
        "position" => {
            let (Some((beat, _)), Some((frames_per_beat, field))) = (beat, frames_per_beat) else {
                return Err(
                    source.error(span, "grid = \"position\" needs `beat` and `frames_per_beat`".to_string())
                );
            };
            if !(frames_per_beat.is_finite() && frames_per_beat > 0.0) {
                return Err(source.error(
                    &field.key_span,
                    format!("{} must be a positive number of frames", field.quoted(source)),
                ));
            }
            GridCommand::Position { beat, frames_per_beat }
        }
        "stop" => GridCommand::Stop,
        _ => GridCommand::Tap,
    };
    if name != "position" {
        if let Some((_, field)) = beat.or(frames_per_beat) {
            return Err(source
                .error(&field.key_span, format!("`{}` only goes with `grid = \"position\"`", field.key)));
        }
    }
    Ok(Command::Grid(command))
}
