//! MIDI learn, the control side: what to learn, and saving what was learned.

use std::path::Path;

use super::binding::{
    allowed_modes, default_mode, BindingMode, BindingTarget, ChannelFilter, Control, Curve, Encoding,
    MidiBinding, SelectTrack, TrackTarget,
};
use super::router::{LearnedBinding, MAX_BINDINGS};
use super::MidiMap;
use crate::atomic_file::write_atomically;
use crate::engine::{Param, TrackAction, MAX_TRACKS};
use crate::file_error::FileError;
use crate::patch::reader::did_you_mean;
use crate::patch::Patch;

/// "Bind the next control that moves to this." `Copy`, so it can cross the
/// lock-free learn queue.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LearnRequest {
    pub target: BindingTarget,
    pub track: TrackTarget,
    /// `None` infers the mode from the control that moves: see
    /// [`LearnRequest::binding_for`].
    pub mode: Option<BindingMode>,
}

impl LearnRequest {
    /// Parse `TARGET[:TRACK][:MODE]`, as given on the command line:
    /// `dub:1`, `speed:selected`, `speed:2:relative`, `feedback:1:binary_offset`,
    /// `erase_pressure:1`, `select:next`, `select:3`, `do:erase:1`, `set:erase:1`.
    ///
    /// TARGET is an action (`dub`), a parameter (`speed`), `erase_pressure`, or
    /// `select:next|previous|N`; `do:` and `set:` pick between the action and
    /// the parameter both called `erase`. TRACK is 1-16 or `selected`
    /// (the default). MODE is a mode name, or an encoder encoding name for a
    /// relative mode with that encoding.
    pub fn parse(text: &str) -> Result<LearnRequest, String> {
        let mut parts = text.trim().split(':').map(str::trim).peekable();
        let first = parts.next().unwrap_or("");
        let target = match first {
            "select" => {
                let which = parts.next().unwrap_or("");
                let select = match which {
                    "next" => SelectTrack::Next,
                    "previous" => SelectTrack::Previous,
                    n => SelectTrack::Number(track_number(n).ok_or_else(|| {
                        format!("`select:{n}`: expected next, previous or a track number (1 to {MAX_TRACKS})")
                    })?),
                };
                BindingTarget::Select(select)
            }
            "do" => {
                let name = parts.next().unwrap_or("");
                action_target(name).ok_or_else(|| unknown_target(name))?
            }
            "set" => {
                let name = parts.next().unwrap_or("");
                Param::from_key(name).map(BindingTarget::Param).ok_or_else(|| unknown_target(name))?
            }
            name => action_target(name)
                .or_else(|| Param::from_key(name).map(BindingTarget::Param))
                .ok_or_else(|| unknown_target(name))?,
        };
        let mut track = TrackTarget::Selected;
        if let Some(next) = parts.peek().copied() {
            if next == "selected" {
                parts.next();
            } else if let Some(n) = track_number(next) {
                track = TrackTarget::Number(n);
                parts.next();
            } else if next.parse::<i64>().is_ok() {
                return Err(format!("track {next} is out of range (tracks are numbered 1 to {MAX_TRACKS})"));
            }
        }
        let mut mode = None;
        if let Some(name) = parts.next() {
            let built = match Encoding::from_name(name) {
                Some(encoding) => match default_mode("relative", target) {
                    Some(BindingMode::Relative { step, .. }) => {
                        Some(BindingMode::Relative { encoding, step })
                    }
                    _ => None,
                },
                None => default_mode(name, target),
            };
            let Some(built) = built else {
                let mut names: Vec<&str> = BindingMode::NAMES.to_vec();
                names.extend(Encoding::NAMES);
                let hint =
                    did_you_mean(name, &names).map(|n| format!("; did you mean `{n}`?")).unwrap_or_default();
                return Err(format!(
                    "`{name}` is not a mode for this target{hint} (modes: {})",
                    names.join(", ")
                ));
            };
            let cc_ok = allowed_modes(target, Control::Cc(0)).contains(&built.name());
            let note_ok = allowed_modes(target, Control::Note(0)).contains(&built.name());
            if !cc_ok && !note_ok {
                return Err(format!(
                    "mode `{}` does not work with this target; use one of {}",
                    built.name(),
                    allowed_modes(target, Control::Cc(0)).join(", ")
                ));
            }
            mode = Some(built);
        }
        if let Some(extra) = parts.next() {
            return Err(format!("unexpected `:{extra}`; the form is TARGET[:TRACK][:MODE], e.g. dub:1"));
        }
        Ok(LearnRequest { target, track, mode })
    }

    /// The binding for a control that moved: a CC or a note on `channel`
    /// (0-based). The requested mode is used when that kind of control
    /// supports it; otherwise (and when none was asked for) it is inferred:
    /// parameters and erase pressure follow the control (absolute, over the
    /// full range, except speed: 0.25x to 4x exponential, and the wow and
    /// flutter rates: exponential); an action works as its declared button
    /// ([`TrackAction::button`]: record and dub held, back to play on
    /// release; multiply and mute toggle; …); the selection and takes
    /// trigger once per press.
    pub fn binding_for(&self, channel: u8, control: Control) -> MidiBinding {
        let allowed = allowed_modes(self.target, control);
        let mode = self.mode.filter(|mode| allowed.contains(&mode.name())).unwrap_or_else(|| {
            let inferred = match self.target {
                BindingTarget::Param(_) | BindingTarget::ErasePressure => "absolute",
                BindingTarget::Action(action) => action.button().mode_name(),
                BindingTarget::Select(_) | BindingTarget::Take => "trigger",
            };
            let name = if allowed.contains(&inferred) { inferred } else { allowed[0] };
            match (name, self.target) {
                // A knob learned for varispeed: centre = 1x, 0.25x to 4x, as
                // the profiles do; reverse has its own action.
                ("absolute", BindingTarget::Param(Param::Speed)) => {
                    BindingMode::Absolute { curve: Curve::Exponential, min: 0.25, max: 4.0 }
                }
                // Rates are heard as ratios.
                ("absolute", BindingTarget::Param(param @ (Param::WowHz | Param::FlutterHz))) => {
                    BindingMode::Absolute {
                        curve: Curve::Exponential,
                        min: param.spec().min,
                        max: param.spec().max,
                    }
                }
                _ => default_mode(name, self.target).unwrap_or(BindingMode::Trigger { value: 0.0 }),
            }
        });
        let track = match self.target {
            BindingTarget::Select(_) => TrackTarget::Selected,
            _ => self.track,
        };
        MidiBinding {
            channel: ChannelFilter::Only(channel & 0x0F),
            control,
            mode,
            target: self.target,
            track,
        }
    }
}

fn action_target(name: &str) -> Option<BindingTarget> {
    if name == "erase_pressure" {
        return Some(BindingTarget::ErasePressure);
    }
    if name == "take" {
        return Some(BindingTarget::Take);
    }
    TrackAction::from_name(name).map(BindingTarget::Action)
}

fn track_number(text: &str) -> Option<u8> {
    text.parse::<u8>().ok().filter(|n| (1..=MAX_TRACKS as u8).contains(n))
}

fn unknown_target(name: &str) -> String {
    let mut names: Vec<&str> = TrackAction::ALL.iter().map(|a| a.name()).collect();
    names.extend(Param::ALL.iter().map(|p| p.key()));
    names.extend(["erase_pressure", "select"]);
    let hint = did_you_mean(name, &names).map(|n| format!("; did you mean `{n}`?")).unwrap_or_default();
    format!(
        "`{name}` is not something to learn{hint} (an action, a parameter, erase_pressure, or select:next|previous|N)"
    )
}

/// Save a binding the router learned ([`save_learned`]), unless the router
/// could not make it active because its table was full: a file with more
/// bindings than a router holds would be refused the next time it loads.
pub fn save_learned_binding(path: &Path, learned: &LearnedBinding) -> Result<MidiMap, FileError> {
    if !learned.active {
        return Err(FileError::new(
            path,
            None,
            format!("{MAX_BINDINGS} bindings are in force, the most there can be: not saved, so the file still loads"),
        ));
    }
    save_learned(path, &[learned.binding])
}

/// Add learned bindings to a MIDI map file (or a patch's `[[midi]]`
/// tables), atomically, and return the map as saved.
///
/// A learned control replaces the bindings that listened to the same
/// control on its channel, as it did in the router. When nothing is
/// replaced, the new `[[midi]]` tables are appended to the text so the
/// file's comments survive; otherwise the map is rewritten from
/// [`MidiMap::to_toml`] (a patch is always rewritten by [`Patch::save`]).
/// A file that does not exist yet becomes a new map named after it.
pub fn save_learned(path: &Path, learned: &[MidiBinding]) -> Result<MidiMap, FileError> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(FileError::cannot_read(path, &err)),
    };
    let is_patch = existing.as_deref().is_some_and(|text| crate::check::has_tables(text, "track"));
    if is_patch {
        let text = existing.unwrap_or_default();
        let mut patch = Patch::parse(&text, path)?;
        let mut map = MidiMap::from_patch_tables(&patch.midi, path)?;
        map.learn(learned);
        patch.midi = map.to_tables();
        patch.save(path)?;
        return Ok(map);
    }
    let (mut map, text) = match existing {
        Some(text) => (MidiMap::parse(&text, path)?, text),
        None => {
            let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let map = MidiMap { name, description: String::new(), bindings: Vec::new(), feedback: None };
            let text = map.to_toml();
            (map, text)
        }
    };
    let replaced = map.learn(learned);
    let new_text = if replaced == 0 {
        let mut text = text;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        for binding in learned {
            text.push('\n');
            text.push_str(&super::toml_format::binding_table(binding));
        }
        text
    } else {
        map.to_toml()
    };
    // Never write a file that would not load back as this map.
    let reread = MidiMap::parse(&new_text, path)?;
    if reread != map {
        return Err(FileError::new(path, None, "learned bindings did not read back unchanged; not saved"));
    }
    write_atomically(path, new_text.as_bytes()).map_err(|err| FileError::cannot_write(path, &err))?;
    Ok(map)
}
