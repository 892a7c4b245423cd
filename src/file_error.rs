//! Errors that point at a place in a file a performer wrote.
//!
//! Every message reads `path:line: what is wrong and what is allowed`, the
//! form editors and terminals already know how to jump to, for example
//! `patches/live.toml:14: track 2: wow_pct = 12 is out of range (0 to 5)`.

use std::fmt;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A problem with one file, located to a line where that is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileError {
    /// The file as the user named it (not canonicalised, so messages match what they typed).
    pub path: PathBuf,
    /// 1-based line number, when the problem has a place in the file.
    pub line: Option<usize>,
    /// What is wrong, phrased so the reader knows what to change.
    pub message: String,
}

impl FileError {
    pub fn new(path: &Path, line: Option<usize>, message: impl Into<String>) -> FileError {
        FileError { path: path.to_path_buf(), line, message: message.into() }
    }

    /// An error at the line holding byte `offset` of `text`.
    pub fn at_offset(path: &Path, text: &str, offset: usize, message: impl Into<String>) -> FileError {
        FileError::new(path, Some(line_of_offset(text, offset)), message)
    }

    /// A TOML syntax error, located by the parser's byte span.
    pub fn from_toml(path: &Path, text: &str, err: &toml::de::Error) -> FileError {
        // The parser's message can span several lines (it lists what it expected);
        // one line per error keeps `path:line:` output greppable.
        let message = err.message().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>();
        let message = format!("not valid TOML: {}", message.join("; "));
        let line = err.span().map(|span| line_of_offset(text, span.start));
        FileError::new(path, line, message)
    }

    /// The file could not be read.
    pub fn cannot_read(path: &Path, err: &io::Error) -> FileError {
        FileError::new(path, None, format!("cannot read: {}", describe_io_error(err)))
    }

    /// The file could not be written.
    pub fn cannot_write(path: &Path, err: &io::Error) -> FileError {
        FileError::new(path, None, format!("cannot write: {}", describe_io_error(err)))
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path.display(), line, self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for FileError {}

/// 1-based line number of the line holding byte `offset`. Offsets past the
/// end count as the last line, so a span from an unterminated construct still
/// points somewhere sensible.
pub fn line_of_offset(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

/// 1-based line number where a byte span starts.
pub fn line_of_span(text: &str, span: &Range<usize>) -> usize {
    line_of_offset(text, span.start)
}

/// The OS description of an I/O error without the trailing "(os error 2)",
/// which means nothing to a performer.
fn describe_io_error(err: &io::Error) -> String {
    let text = err.to_string();
    match text.rfind(" (os error ") {
        Some(cut) if text.ends_with(')') => text[..cut].to_string(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_with_and_without_line() {
        let with = FileError::new(Path::new("patches/live.toml"), Some(14), "track 2: bad");
        assert_eq!(with.to_string(), "patches/live.toml:14: track 2: bad");
        let without = FileError::new(Path::new("x.toml"), None, "missing");
        assert_eq!(without.to_string(), "x.toml: missing");
    }

    #[test]
    fn offsets_map_to_lines() {
        let text = "a\nbb\n\nccc";
        assert_eq!(line_of_offset(text, 0), 1);
        assert_eq!(line_of_offset(text, 2), 2);
        assert_eq!(line_of_offset(text, 5), 3);
        assert_eq!(line_of_offset(text, 6), 4);
        assert_eq!(line_of_offset(text, 999), 4);
    }

    #[test]
    fn io_errors_lose_the_os_error_number() {
        let err = io::Error::from_raw_os_error(2);
        let file_error = FileError::cannot_read(Path::new("patches/x.toml"), &err);
        assert_eq!(file_error.to_string(), "patches/x.toml: cannot read: No such file or directory");
    }
}
