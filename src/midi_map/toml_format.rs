//! `[[midi]]` tables: reading them with precise errors, and writing them
//! back so they read to equal bindings.

use std::fmt::Write as _;
use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::binding::{
    allowed_modes, control_phrase, default_mode, default_step, opposite, quoted_list, target_phrase,
    value_range, BindingMode, BindingTarget, ChannelFilter, Control, Curve, Encoding, MidiBinding,
    SelectTrack, TrackTarget,
};
use crate::engine::{Param, TrackAction, MAX_TRACKS};
use crate::file_error::FileError;
use crate::patch::reader::{did_you_mean, float_f32, unknown_key, Field, Source};

/// Keys a `[[midi]]` table accepts, in documentation order.
pub const BINDING_KEYS: [&str; 15] = [
    "cc", "note", "channel", "do", "set", "select", "track", "mode", "curve", "min", "max", "encoding",
    "step", "off", "value",
];

/// Keys that only mean something in one mode, and that mode.
const MODE_KEYS: [(&str, &str); 7] = [
    ("curve", "absolute"),
    ("min", "absolute"),
    ("max", "absolute"),
    ("encoding", "relative"),
    ("step", "relative"),
    ("off", "toggle\" or \"momentary"),
    ("value", "trigger"),
];

/// Read one `[[midi]]` table; `number` (1-based) names it in errors and
/// `header` locates errors that belong to no single key.
pub(crate) fn read_binding(
    source: &Source<'_>,
    table: &DeTable<'_>,
    header: &Range<usize>,
    number: usize,
) -> Result<MidiBinding, FileError> {
    let at = |span: &Range<usize>, message: String| {
        source.error(span, format!("midi binding {number}: {message}"))
    };
    let fields = crate::patch::reader::fields(table);
    let mut found: [Option<&Field<'_, '_>>; BINDING_KEYS.len()] = [None; BINDING_KEYS.len()];
    for field in &fields {
        match BINDING_KEYS.iter().position(|k| *k == field.key) {
            Some(index) => found[index] = Some(field),
            None => return Err(at(&field.key_span, unknown_key(field.key, &BINDING_KEYS))),
        }
    }
    let get = |key: &str| BINDING_KEYS.iter().position(|k| *k == key).and_then(|i| found[i]);
    let fail = |field: &Field<'_, '_>, message: String| at(&field.key_span, message);

    let control = match (get("cc"), get("note")) {
        (Some(cc), None) => Control::Cc(midi_number(source, cc).map_err(|m| fail(cc, m))?),
        (None, Some(note)) => Control::Note(midi_number(source, note).map_err(|m| fail(note, m))?),
        (Some(a), Some(b)) => {
            let later = if a.key_span.start > b.key_span.start { a } else { b };
            return Err(fail(later, "a binding has either `cc` or `note`, not both; split it in two".into()));
        }
        (None, None) => {
            return Err(at(header, "needs `cc = number` or `note = number` (0 to 127)".into()));
        }
    };

    let channel = match get("channel") {
        None => ChannelFilter::Any,
        Some(field) => read_channel(source, field).map_err(|m| fail(field, m))?,
    };

    let targets: Vec<&Field<'_, '_>> = ["do", "set", "select"].iter().filter_map(|k| get(k)).collect();
    let target_field = match targets.as_slice() {
        [one] => *one,
        [] => {
            return Err(at(
                header,
                "needs a target: `do = \"action\"`, `set = \"parameter\"` or `select = \"next\"`".into(),
            ))
        }
        [_, second, ..] => {
            return Err(fail(second, "a binding has one target: `do`, `set` or `select`, not two".into()))
        }
    };
    let target = read_target(source, target_field).map_err(|m| fail(target_field, m))?;

    let track = match (get("track"), target) {
        (Some(field), BindingTarget::Select(_)) => {
            return Err(fail(
                field,
                "`track` does not apply to `select`, which moves the selection itself".into(),
            ))
        }
        (Some(field), _) => read_track(source, field).map_err(|m| fail(field, m))?,
        (None, _) => TrackTarget::Selected,
    };

    let allowed = allowed_modes(target, control);
    let mode_name = match get("mode") {
        None => allowed[0],
        Some(field) => {
            let name = field.choice(source, &BindingMode::NAMES).map_err(|m| fail(field, m))?;
            if !allowed.contains(&name) {
                return Err(fail(
                    field,
                    format!(
                        "mode = \"{name}\" does not work with {} on a {}; use {}",
                        target_phrase(target),
                        control_phrase(control),
                        quoted_list(allowed)
                    ),
                ));
            }
            name
        }
    };
    for (key, mode) in MODE_KEYS {
        if let Some(field) = get(key) {
            if !mode.split("\" or \"").any(|m| m == mode_name) {
                return Err(fail(field, format!("`{key}` only applies to mode = \"{mode}\"")));
            }
        }
    }

    let (lo, hi) = value_range(target);
    let in_range = |field: &Field<'_, '_>| -> Result<f32, String> {
        let range = format!("{lo} to {hi}");
        let what = match target {
            BindingTarget::Param(param) => format!(" for {}", param.key()),
            BindingTarget::ErasePressure => " for erase pressure".to_string(),
            BindingTarget::Take => " for takes".to_string(),
            _ => String::new(),
        };
        let value = field.number(source, &format!("a number ({range})"))? as f32;
        if (lo..=hi).contains(&value) {
            Ok(value)
        } else {
            Err(format!("{} is out of range{what} ({range})", field.quoted(source)))
        }
    };

    let mode = match mode_name {
        "absolute" => {
            let curve = match get("curve") {
                None => Curve::Linear,
                Some(field) => {
                    let name = field.choice(source, &Curve::NAMES).map_err(|m| fail(field, m))?;
                    Curve::from_name(name).unwrap_or(Curve::Linear)
                }
            };
            let min = get("min").map(|f| in_range(f).map_err(|m| fail(f, m))).transpose()?.unwrap_or(lo);
            let max = get("max").map(|f| in_range(f).map_err(|m| fail(f, m))).transpose()?.unwrap_or(hi);
            if curve == Curve::Exponential && min * max <= 0.0 {
                let field = get("curve").unwrap_or(target_field);
                return Err(fail(
                    field,
                    format!(
                        "curve = \"exponential\" needs min and max on the same side of 0 (now {min} to {max}); \
                         set both, e.g. min = {} and max = {hi}",
                        if hi > 0.0 { hi / 16.0 } else { lo }
                    ),
                ));
            }
            BindingMode::Absolute { curve, min, max }
        }
        "relative" => {
            let encoding = match get("encoding") {
                None => Encoding::TwosComplement,
                Some(field) => {
                    let name = field.choice(source, &Encoding::NAMES).map_err(|m| fail(field, m))?;
                    Encoding::from_name(name).unwrap_or(Encoding::TwosComplement)
                }
            };
            let step = match get("step") {
                None => default_step(target),
                Some(field) => {
                    let span = hi - lo;
                    let expected = format!("a non-zero number (-{span} to {span})");
                    let step = field.number(source, &expected).map_err(|m| fail(field, m))? as f32;
                    if step == 0.0 || step.abs() > span {
                        return Err(fail(
                            field,
                            format!("{} is not allowed; expected {expected}", field.quoted(source)),
                        ));
                    }
                    step
                }
            };
            BindingMode::Relative { encoding, step }
        }
        "toggle" | "momentary" => {
            let BindingTarget::Action(action) = target else {
                return Err(at(header, format!("mode = \"{mode_name}\" needs a `do` action")));
            };
            let off = match get("off") {
                Some(field) => read_action(source, field).map_err(|m| fail(field, m))?,
                None => opposite(action).ok_or_else(|| {
                    at(
                        &target_field.key_span,
                        format!(
                            "do = \"{}\" has no natural opposite for mode = \"{mode_name}\"; add `off = \"action\"` or use mode = \"trigger\"",
                            action.name()
                        ),
                    )
                })?,
            };
            if mode_name == "toggle" {
                BindingMode::Toggle { off }
            } else {
                BindingMode::Momentary { release: off }
            }
        }
        _ => {
            let value = match (get("value"), target) {
                (Some(field), BindingTarget::Param(_)) => in_range(field).map_err(|m| fail(field, m))?,
                (Some(field), _) => {
                    return Err(fail(field, "`value` only applies to a `set` parameter target".into()))
                }
                (None, BindingTarget::Param(param)) => {
                    let spec = param.spec();
                    return Err(fail(
                        target_field,
                        format!(
                            "set = \"{}\" with mode = \"trigger\" needs `value = number` ({} to {})",
                            spec.key, spec.min, spec.max
                        ),
                    ));
                }
                (None, _) => default_mode("trigger", target).map_or(0.0, |m| match m {
                    BindingMode::Trigger { value } => value,
                    _ => 0.0,
                }),
            };
            BindingMode::Trigger { value }
        }
    };
    let binding = MidiBinding { channel, control, mode, target, track };
    // The reader already enforces every rule; this catches any it missed
    // rather than let the router meet a binding it cannot serve.
    match binding.problem() {
        Some(problem) => Err(at(header, problem)),
        None => Ok(binding),
    }
}

fn midi_number(source: &Source<'_>, field: &Field<'_, '_>) -> Result<u8, String> {
    let expected = "a whole number (0 to 127)";
    let n = field.integer(source, expected)?;
    u8::try_from(n)
        .ok()
        .filter(|n| *n <= 127)
        .ok_or_else(|| format!("{} is out of range (0 to 127)", field.quoted(source)))
}

fn read_channel(source: &Source<'_>, field: &Field<'_, '_>) -> Result<ChannelFilter, String> {
    let expected = "a channel number (1 to 16) or \"any\"";
    match field.value {
        DeValue::String(text) if text.as_ref() == "any" => Ok(ChannelFilter::Any),
        DeValue::String(_) => Err(format!("{} is not allowed; expected {expected}", field.quoted(source))),
        _ => {
            let n = field.integer(source, expected)?;
            u8::try_from(n)
                .ok()
                .filter(|n| (1..=16).contains(n))
                .map(|n| ChannelFilter::Only(n - 1))
                .ok_or_else(|| format!("{} is out of range (channels are 1 to 16)", field.quoted(source)))
        }
    }
}

fn read_track(source: &Source<'_>, field: &Field<'_, '_>) -> Result<TrackTarget, String> {
    let expected = format!("a track number (1 to {MAX_TRACKS}) or \"selected\"");
    match field.value {
        DeValue::String(text) if text.as_ref() == "selected" => Ok(TrackTarget::Selected),
        DeValue::String(_) => Err(format!("{} is not allowed; expected {expected}", field.quoted(source))),
        _ => Ok(TrackTarget::Number(track_number(source, field, &expected)?)),
    }
}

fn track_number(source: &Source<'_>, field: &Field<'_, '_>, expected: &str) -> Result<u8, String> {
    let n = field.integer(source, expected)?;
    u8::try_from(n).ok().filter(|n| (1..=MAX_TRACKS as u8).contains(n)).ok_or_else(|| {
        format!("{} is out of range (tracks are numbered 1 to {MAX_TRACKS})", field.quoted(source))
    })
}

/// Names `do` accepts: every action, then erase pressure.
fn do_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = TrackAction::ALL.iter().map(|a| a.name()).collect();
    names.push("erase_pressure");
    names.push("take");
    names
}

fn read_action(source: &Source<'_>, field: &Field<'_, '_>) -> Result<TrackAction, String> {
    let names: Vec<&str> = TrackAction::ALL.iter().map(|a| a.name()).collect();
    let text = field.string(source, "an action name")?;
    TrackAction::from_name(text).ok_or_else(|| not_one_of(source, field, text, "an action", &names))
}

fn read_target(source: &Source<'_>, field: &Field<'_, '_>) -> Result<BindingTarget, String> {
    match field.key {
        "do" => {
            let names = do_names();
            let text = field.string(source, "an action name")?;
            if text == "erase_pressure" {
                return Ok(BindingTarget::ErasePressure);
            }
            if text == "take" {
                return Ok(BindingTarget::Take);
            }
            TrackAction::from_name(text)
                .map(BindingTarget::Action)
                .ok_or_else(|| not_one_of(source, field, text, "an action", &names))
        }
        "set" => {
            let names: Vec<&str> = Param::ALL.iter().map(|p| p.key()).collect();
            let text = field.string(source, "a parameter name")?;
            Param::from_key(text)
                .map(BindingTarget::Param)
                .ok_or_else(|| not_one_of(source, field, text, "a parameter", &names))
        }
        _ => {
            let expected = format!("\"next\", \"previous\" or a track number (1 to {MAX_TRACKS})");
            match field.value {
                DeValue::String(text) => match text.as_ref() {
                    "next" => Ok(BindingTarget::Select(SelectTrack::Next)),
                    "previous" => Ok(BindingTarget::Select(SelectTrack::Previous)),
                    other => {
                        let hint = did_you_mean(other, &["next", "previous"])
                            .map(|n| format!("; did you mean \"{n}\"?"))
                            .unwrap_or_default();
                        Err(format!("{} is not allowed{hint} (expected {expected})", field.quoted(source)))
                    }
                },
                _ => Ok(BindingTarget::Select(SelectTrack::Number(track_number(source, field, &expected)?))),
            }
        }
    }
}

/// `do = "recrod" is not an action; did you mean "record"? (allowed: …)`,
/// the same shape as the events file's message.
fn not_one_of(source: &Source<'_>, field: &Field<'_, '_>, text: &str, what: &str, names: &[&str]) -> String {
    let hint = did_you_mean(text, names).map(|n| format!("; did you mean \"{n}\"?")).unwrap_or_default();
    format!("{} is not {what}{hint} (allowed: {})", field.quoted(source), names.join(", "))
}

/// One binding as a `[[midi]]` table. Every value the binding holds is
/// written (including defaults), so the table reads back to an equal binding.
pub fn binding_table(binding: &MidiBinding) -> String {
    let mut out = String::from("[[midi]]\n");
    // `write!` into a String cannot fail; results are ignored for that reason.
    match binding.control {
        Control::Cc(n) => {
            let _ = writeln!(out, "cc = {n}");
        }
        Control::Note(n) => {
            let _ = writeln!(out, "note = {n}");
        }
    }
    if let ChannelFilter::Only(channel) = binding.channel {
        let _ = writeln!(out, "channel = {}", u16::from(channel) + 1);
    }
    let _ = writeln!(out, "{}", target_phrase(binding.target));
    if !matches!(binding.target, BindingTarget::Select(_)) {
        match binding.track {
            TrackTarget::Number(n) => {
                let _ = writeln!(out, "track = {n}");
            }
            TrackTarget::Selected => {
                let _ = writeln!(out, "track = \"selected\"");
            }
        }
    }
    let _ = writeln!(out, "mode = \"{}\"", binding.mode.name());
    match binding.mode {
        BindingMode::Absolute { curve, min, max } => {
            let _ = writeln!(out, "curve = \"{}\"", curve.name());
            let _ = writeln!(out, "min = {}", float_f32(min));
            let _ = writeln!(out, "max = {}", float_f32(max));
        }
        BindingMode::Relative { encoding, step } => {
            let _ = writeln!(out, "encoding = \"{}\"", encoding.name());
            let _ = writeln!(out, "step = {}", float_f32(step));
        }
        BindingMode::Toggle { off } | BindingMode::Momentary { release: off } => {
            let _ = writeln!(out, "off = \"{}\"", off.name());
        }
        BindingMode::Trigger { value } => {
            if matches!(binding.target, BindingTarget::Param(_)) {
                let _ = writeln!(out, "value = {}", float_f32(value));
            }
        }
    }
    out
}
