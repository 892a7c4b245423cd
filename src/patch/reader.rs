//! Reading TOML with byte spans, shared by the patch and events formats.
//!
//! `toml`'s span-preserving document model ([`DeTable`]) is walked by hand
//! rather than through serde derive, because a derive can only say "invalid
//! type" or "unknown field"; here every message can name the key, quote the
//! value as written, give the allowed range and suggest a near spelling.

use std::ops::Range;
use std::path::Path;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::engine::Param;
use crate::file_error::{line_of_span, FileError};

/// The text being read and the name to report it under.
#[derive(Clone, Copy)]
pub(crate) struct Source<'a> {
    pub path: &'a Path,
    pub text: &'a str,
}

impl<'a> Source<'a> {
    pub fn new(text: &'a str, path: &'a Path) -> Source<'a> {
        Source { path, text }
    }

    pub fn parse(&self) -> Result<Spanned<DeTable<'a>>, FileError> {
        DeTable::parse(self.text).map_err(|err| FileError::from_toml(self.path, self.text, &err))
    }

    pub fn error(&self, span: &Range<usize>, message: impl Into<String>) -> FileError {
        FileError::new(self.path, Some(line_of_span(self.text, span)), message)
    }

    pub fn line(&self, span: &Range<usize>) -> usize {
        line_of_span(self.text, span)
    }

    /// The value as the user wrote it, for quoting back in messages. Only the
    /// first line of a multi-line value, so the message stays one line.
    pub fn raw(&self, span: &Range<usize>) -> &'a str {
        let raw = self.text.get(span.clone()).unwrap_or("");
        raw.lines().next().unwrap_or("").trim()
    }
}

/// One `key = value` of a table, with where both were written.
pub(crate) struct Field<'t, 'i> {
    pub key: &'t str,
    pub key_span: Range<usize>,
    pub value: &'t DeValue<'i>,
    pub value_span: Range<usize>,
}

/// A table's fields in the order they appear in the file, so that the first
/// problem reported is the first one the reader will meet.
pub(crate) fn fields<'t, 'i>(table: &'t DeTable<'i>) -> Vec<Field<'t, 'i>> {
    let mut fields: Vec<Field<'t, 'i>> = table
        .iter()
        .map(|(key, value)| Field {
            key: key.get_ref().as_ref(),
            key_span: key.span(),
            value: value.get_ref(),
            value_span: value.span(),
        })
        .collect();
    fields.sort_by_key(|field| field.key_span.start);
    fields
}

/// "a string", "an integer", … for "is a string; expected a number".
pub(crate) fn type_phrase(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

impl Field<'_, '_> {
    /// `key = raw` for scalars, just `key` for arrays and tables.
    pub fn quoted(&self, source: &Source<'_>) -> String {
        match self.value {
            DeValue::Array(_) | DeValue::Table(_) => self.key.to_string(),
            _ => format!("{} = {}", self.key, source.raw(&self.value_span)),
        }
    }

    /// `"key = raw is a string; expected …"`.
    pub fn wrong_type(&self, source: &Source<'_>, expected: &str) -> String {
        format!("{} is {}; expected {}", self.quoted(source), type_phrase(self.value), expected)
    }

    /// A finite number; integers are accepted where floats are (`length = 8`).
    pub fn number(&self, source: &Source<'_>, expected: &str) -> Result<f64, String> {
        let parsed = match self.value {
            DeValue::Float(float) => float.as_str().parse::<f64>().ok(),
            DeValue::Integer(int) => i128::from_str_radix(int.as_str(), int.radix()).ok().map(|i| i as f64),
            _ => return Err(self.wrong_type(source, expected)),
        };
        match parsed {
            Some(value) if value.is_finite() => Ok(value),
            _ => Err(format!("{} is not a finite number; expected {}", self.quoted(source), expected)),
        }
    }

    /// A whole number. `i128` holds every TOML integer and every `u64`.
    pub fn integer(&self, source: &Source<'_>, expected: &str) -> Result<i128, String> {
        match self.value {
            DeValue::Integer(int) => i128::from_str_radix(int.as_str(), int.radix())
                .map_err(|_| format!("{} is too large; expected {}", self.quoted(source), expected)),
            _ => Err(self.wrong_type(source, expected)),
        }
    }

    pub fn string(&self, source: &Source<'_>, expected: &str) -> Result<&str, String> {
        match self.value {
            DeValue::String(text) => Ok(text.as_ref()),
            _ => Err(self.wrong_type(source, expected)),
        }
    }

    pub fn boolean(&self, source: &Source<'_>) -> Result<bool, String> {
        match self.value {
            DeValue::Boolean(flag) => Ok(*flag),
            _ => Err(self.wrong_type(source, "true or false")),
        }
    }

    /// A number checked against a parameter's range. The check is done on
    /// the `f32` the engine will hold, so a value written as exactly the
    /// documented bound (`0.05`) is never rejected by rounding.
    pub fn param_value(&self, source: &Source<'_>, param: Param) -> Result<f32, String> {
        // A stepped parameter by name (`quantize = "bar"`), or by its number.
        if !param.choices().is_empty() && matches!(self.value, DeValue::String(_)) {
            let name = self.choice(source, param.choices())?;
            return Ok(param.choice_value(name).unwrap_or(param.default_value()));
        }
        let spec = param.spec();
        let range = format!("{} to {}", spec.min, spec.max);
        let value = self.number(source, &format!("a number ({range})"))?;
        let value = value as f32;
        if param.contains(value) {
            Ok(value)
        } else {
            Err(format!("{} is out of range ({range})", self.quoted(source)))
        }
    }

    /// One of a fixed set of names, with a spelling hint when it is close.
    pub fn choice<'n>(&self, source: &Source<'_>, names: &[&'n str]) -> Result<&'n str, String> {
        let allowed = names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
        let text = self.string(source, &format!("one of {allowed}"))?;
        if let Some(name) = names.iter().find(|n| **n == text) {
            return Ok(name);
        }
        let hint = match did_you_mean(text, names) {
            Some(near) => format!("; did you mean \"{near}\"?"),
            None => String::new(),
        };
        Err(format!("{} is not one of {allowed}{hint}", self.quoted(source)))
    }
}

/// The message for a key that is not part of the format.
pub(crate) fn unknown_key(key: &str, allowed: &[&str]) -> String {
    match did_you_mean(key, allowed) {
        Some(near) => format!("unknown key `{key}`; did you mean `{near}`?"),
        None => format!("unknown key `{key}` (allowed: {})", allowed.join(", ")),
    }
}

/// The closest allowed word, if it is close enough to be a plausible typo:
/// at most two edits, or a third of the word for long keys.
pub(crate) fn did_you_mean<'n>(word: &str, candidates: &[&'n str]) -> Option<&'n str> {
    let word = word.to_lowercase();
    let (best, distance) =
        candidates.iter().map(|c| (*c, edit_distance(&word, c))).min_by_key(|(_, distance)| *distance)?;
    let limit = (word.chars().count() / 3).max(2);
    (distance <= limit).then_some(best)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// Format an `f32` so it reads back as a TOML float with the same value:
/// Rust prints the shortest string that round-trips, but omits `.0`.
pub(crate) fn float_f32(value: f32) -> String {
    float_text(value.to_string(), value.is_finite(), value.is_nan(), value.is_sign_negative())
}

/// As [`float_f32`], for `f64`.
pub(crate) fn float_f64(value: f64) -> String {
    float_text(value.to_string(), value.is_finite(), value.is_nan(), value.is_sign_negative())
}

fn float_text(text: String, finite: bool, nan: bool, negative: bool) -> String {
    if nan {
        "nan".to_string()
    } else if !finite {
        if negative { "-inf" } else { "inf" }.to_string()
    } else if text.contains(['.', 'e', 'E']) {
        text
    } else {
        text + ".0"
    }
}

/// A TOML basic string literal, escaped.
pub(crate) fn string_literal(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_but_not_unrelated_words() {
        let keys = ["wow_pct", "wow_hz", "flutter_pct", "feedback", "pan"];
        assert_eq!(did_you_mean("wow_hx", &keys), Some("wow_hz"));
        assert_eq!(did_you_mean("feedbak", &keys), Some("feedback"));
        assert_eq!(did_you_mean("Feedback", &keys), Some("feedback"));
        assert_eq!(did_you_mean("reverb", &keys), None);
    }

    #[test]
    fn floats_always_read_back_as_floats() {
        assert_eq!(float_f32(1.0), "1.0");
        assert_eq!(float_f32(0.93), "0.93");
        assert_eq!(float_f32(-120.0), "-120.0");
        assert_eq!(float_f64(17.8), "17.8");
        assert_eq!(float_f64(f64::NAN), "nan");
        assert_eq!(float_f32(f32::NEG_INFINITY), "-inf");
    }
}
