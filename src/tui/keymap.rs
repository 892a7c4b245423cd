//! Keys are data: a TOML table of mode → key → action, built in from
//! `default_keys.toml` and merged with the performer's own file.

use std::fmt;
use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use toml::de::DeValue;

use super::action::Action;
use crate::engine::TrackAction;
use crate::file_error::FileError;
use crate::patch::reader::{fields, Source};

/// The built-in keymap, compiled into the binary.
pub const DEFAULT_KEYS: &str = include_str!("default_keys.toml");

/// Which table of keys is active: the screen's context.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyMode {
    Main,
    Help,
    Learn,
    Picker,
    Confirm,
    Prompt,
}

impl KeyMode {
    pub const ALL: [KeyMode; 6] =
        [KeyMode::Main, KeyMode::Help, KeyMode::Learn, KeyMode::Picker, KeyMode::Confirm, KeyMode::Prompt];

    pub fn name(self) -> &'static str {
        match self {
            KeyMode::Main => "main",
            KeyMode::Help => "help",
            KeyMode::Learn => "learn",
            KeyMode::Picker => "picker",
            KeyMode::Confirm => "confirm",
            KeyMode::Prompt => "prompt",
        }
    }
}

/// A key with its modifiers, normalised so that what a terminal reports
/// and what a keymap file says compare equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyChord {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

impl KeyChord {
    pub fn new(code: KeyCode, modifiers: KeyModifiers) -> KeyChord {
        // Shift is already in the character ('R', '?'), and terminals disagree
        // about reporting it, so it is dropped for characters and back-tab.
        let modifiers = match code {
            KeyCode::Char(_) | KeyCode::BackTab => modifiers - KeyModifiers::SHIFT,
            _ => modifiers,
        };
        KeyChord {
            code,
            modifiers: modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT),
        }
    }

    pub fn from_event(event: &KeyEvent) -> KeyChord {
        KeyChord::new(event.code, event.modifiers)
    }

    /// Parse "r", "R", "?", "space", "ctrl+s", "alt+up", "shift+left", "f5".
    pub fn parse(text: &str) -> Result<KeyChord, String> {
        let mut modifiers = KeyModifiers::NONE;
        let mut rest = text;
        // A lone "+" or "-" is a key, not a separator.
        while rest.chars().count() > 1 {
            let Some((prefix, tail)) = rest.split_once('+') else { break };
            if tail.is_empty() {
                break;
            }
            modifiers |= match prefix.to_ascii_lowercase().as_str() {
                "ctrl" | "control" => KeyModifiers::CONTROL,
                "alt" => KeyModifiers::ALT,
                "shift" => KeyModifiers::SHIFT,
                other => return Err(format!("unknown modifier `{other}` (use ctrl, alt or shift)")),
            };
            rest = tail;
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCode::Char(c),
            _ => match rest.to_ascii_lowercase().as_str() {
                "space" => KeyCode::Char(' '),
                "tab" => KeyCode::Tab,
                "backtab" => KeyCode::BackTab,
                "enter" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "backspace" => KeyCode::Backspace,
                "delete" | "del" => KeyCode::Delete,
                "insert" => KeyCode::Insert,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "pageup" => KeyCode::PageUp,
                "pagedown" => KeyCode::PageDown,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                name => match name.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
                    Some(n) if (1..=12).contains(&n) => KeyCode::F(n),
                    _ => return Err(format!("unknown key `{text}`")),
                },
            },
        };
        let code = match (code, modifiers.contains(KeyModifiers::SHIFT)) {
            (KeyCode::Tab, true) => KeyCode::BackTab,
            (KeyCode::Char(c), true) => KeyCode::Char(c.to_ascii_uppercase()),
            (code, _) => code,
        };
        Ok(KeyChord::new(code, modifiers))
    }
}

impl fmt::Display for KeyChord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl+")?;
        }
        if self.modifiers.contains(KeyModifiers::ALT) {
            f.write_str("alt+")?;
        }
        if self.modifiers.contains(KeyModifiers::SHIFT) {
            f.write_str("shift+")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("shift+tab"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// Every mode's bindings, in the order they were written (the help screen's order).
#[derive(Clone, Debug, PartialEq)]
pub struct KeyMap {
    modes: Vec<(KeyMode, Vec<(KeyChord, Action)>)>,
}

impl KeyMap {
    /// The built-in keys alone: each track action's declared key
    /// ([`TrackAction::default_key`]), then `default_keys.toml` (the
    /// screen's own actions and second keys).
    pub fn defaults() -> KeyMap {
        let mut map = KeyMap { modes: KeyMode::ALL.iter().map(|m| (*m, Vec::new())).collect() };
        // Both tables are tested; failing here would be a build mistake, and
        // a key left out (quit still works via the terminal) beats a panic.
        for action in TrackAction::ALL {
            if let Some(chord) = action.default_key().and_then(|key| KeyChord::parse(key).ok()) {
                map.bind(KeyMode::Main, chord, Some(Action::Track(action)));
            }
        }
        let _ = map.merge_text(DEFAULT_KEYS, Path::new("default_keys.toml"));
        map
    }

    /// The built-in keys with `path` merged over them, if it exists.
    pub fn load(path: &Path) -> Result<KeyMap, FileError> {
        let mut map = KeyMap::defaults();
        match std::fs::read_to_string(path) {
            Ok(text) => map.merge_text(&text, path)?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(FileError::cannot_read(path, &err)),
        }
        Ok(map)
    }

    /// Merge a keymap file's text over this map. `path` names it in errors.
    pub fn merge_text(&mut self, text: &str, path: &Path) -> Result<(), FileError> {
        let source = Source::new(text, path);
        let root = source.parse()?;
        for section in fields(root.get_ref()) {
            let Some(mode) = KeyMode::ALL.into_iter().find(|m| m.name() == section.key) else {
                let names: Vec<&str> = KeyMode::ALL.iter().map(|m| m.name()).collect();
                let message =
                    format!("unknown section [{}]; expected one of: {}", section.key, names.join(", "));
                return Err(source.error(&section.key_span, message));
            };
            let DeValue::Table(table) = section.value else {
                let message = format!("`{}` must be a table of key = \"action\"", section.key);
                return Err(source.error(&section.key_span, message));
            };
            for binding in fields(table) {
                let chord = KeyChord::parse(binding.key)
                    .map_err(|m| source.error(&binding.key_span, format!("[{}]: {m}", mode.name())))?;
                let name = binding.string(&source, "an action name in quotes").map_err(|m| {
                    source.error(&binding.key_span, format!("[{}] {}: {m}", mode.name(), binding.key))
                })?;
                let action = if name == "none" {
                    None
                } else {
                    Some(Action::from_name(name).ok_or_else(|| {
                        let message = format!(
                            "[{}] {}: unknown action \"{name}\" (see the help screen, `?`, for every action)",
                            mode.name(),
                            binding.key
                        );
                        source.error(&binding.value_span, message)
                    })?)
                };
                self.bind(mode, chord, action);
            }
        }
        Ok(())
    }

    fn bind(&mut self, mode: KeyMode, chord: KeyChord, action: Option<Action>) {
        let Some((_, bindings)) = self.modes.iter_mut().find(|(m, _)| *m == mode) else { return };
        let existing = bindings.iter().position(|(c, _)| *c == chord);
        match (existing, action) {
            (Some(i), Some(action)) => bindings[i].1 = action,
            (Some(i), None) => {
                bindings.remove(i);
            }
            (None, Some(action)) => bindings.push((chord, action)),
            (None, None) => {}
        }
    }

    /// The action bound to a key in a mode.
    pub fn action(&self, mode: KeyMode, key: &KeyEvent) -> Option<Action> {
        let chord = KeyChord::from_event(key);
        self.bindings(mode).iter().find(|(c, _)| *c == chord).map(|(_, a)| *a)
    }

    /// A mode's bindings in file order.
    pub fn bindings(&self, mode: KeyMode) -> &[(KeyChord, Action)] {
        self.modes.iter().find(|(m, _)| *m == mode).map_or(&[][..], |(_, b)| b)
    }

    /// The first key bound to an action, for hints ("press ? for help").
    pub fn key_for(&self, mode: KeyMode, action: Action) -> Option<KeyChord> {
        self.bindings(mode).iter().find(|(_, a)| *a == action).map(|(c, _)| *c)
    }
}

/// Where the performer's keymap lives: `$XDG_CONFIG_HOME/ferrotape/keys.toml`,
/// else `~/.config/ferrotape/keys.toml`.
pub fn user_keys_path() -> Option<PathBuf> {
    super::config_dir().map(|dir| dir.join("keys.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn defaults_parse_and_bind_the_basics() {
        let mut map = KeyMap { modes: KeyMode::ALL.iter().map(|m| (*m, Vec::new())).collect() };
        map.merge_text(DEFAULT_KEYS, Path::new("default_keys.toml")).expect("built-in keys parse");
        let r = key(KeyCode::Char('r'), KeyModifiers::NONE);
        assert_eq!(KeyMap::defaults().action(KeyMode::Main, &r), Some(Action::Track(TrackAction::Record)));
        // Terminals report '?' with or without shift; both must work.
        let help = key(KeyCode::Char('?'), KeyModifiers::SHIFT);
        assert_eq!(map.action(KeyMode::Main, &help), Some(Action::Help));
        let save = key(KeyCode::Char('s'), KeyModifiers::CONTROL);
        assert_eq!(map.action(KeyMode::Main, &save), Some(Action::Save));
        assert_eq!(map.action(KeyMode::Help, &key(KeyCode::Esc, KeyModifiers::NONE)), Some(Action::Cancel));
    }

    #[test]
    fn every_declared_key_plays_its_action() {
        let map = KeyMap::defaults();
        for action in TrackAction::ALL {
            let Some(key) = action.default_key() else { continue };
            let chord = KeyChord::parse(key).unwrap_or_else(|err| panic!("{}: {err}", action.name()));
            let event = key_event(chord);
            assert_eq!(map.action(KeyMode::Main, &event), Some(Action::Track(action)), "{key}");
        }
        // The file adds keys of its own but takes none from the actions.
        let mut file = KeyMap { modes: KeyMode::ALL.iter().map(|m| (*m, Vec::new())).collect() };
        file.merge_text(DEFAULT_KEYS, Path::new("default_keys.toml")).expect("built-in keys parse");
        for (chord, _) in file.bindings(KeyMode::Main) {
            let declared = TrackAction::ALL
                .into_iter()
                .find(|a| a.default_key().and_then(|k| KeyChord::parse(k).ok()) == Some(*chord));
            assert_eq!(declared, None, "default_keys.toml rebinds {chord}");
        }
        // Shift+alt as a terminal reports it reaches the same action.
        let redo_all = key(KeyCode::Char('U'), KeyModifiers::ALT | KeyModifiers::SHIFT);
        assert_eq!(map.action(KeyMode::Main, &redo_all), Some(Action::Track(TrackAction::RedoAll)));
    }

    fn key_event(chord: KeyChord) -> KeyEvent {
        KeyEvent::new(chord.code, chord.modifiers)
    }

    #[test]
    fn user_file_overrides_and_unbinds() {
        let mut map = KeyMap::defaults();
        let text =
            "[main]\nr = \"dub\"\nx = \"record\"\nq = \"none\"\n\"ctrl+shift+left\" = \"prev_param\"\n";
        map.merge_text(text, Path::new("keys.toml")).expect("valid user keys");
        let dub = Action::Track(TrackAction::Dub);
        assert_eq!(map.action(KeyMode::Main, &key(KeyCode::Char('r'), KeyModifiers::NONE)), Some(dub));
        let x = key(KeyCode::Char('x'), KeyModifiers::NONE);
        assert_eq!(map.action(KeyMode::Main, &x), Some(Action::Track(TrackAction::Record)));
        assert_eq!(map.action(KeyMode::Main, &key(KeyCode::Char('q'), KeyModifiers::NONE)), None);
        let chord = key(KeyCode::Left, KeyModifiers::CONTROL | KeyModifiers::SHIFT);
        assert_eq!(map.action(KeyMode::Main, &chord), Some(Action::PrevParam));
    }

    #[test]
    fn bad_user_keymap_names_file_and_line() {
        let mut map = KeyMap::defaults();
        let path = Path::new("/home/me/.config/ferrotape/keys.toml");
        let err = map.merge_text("[main]\nr = \"dub\"\nx = \"recrod\"\n", path).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/home/me/.config/ferrotape/keys.toml:3: [main] x: unknown action \"recrod\" \
             (see the help screen, `?`, for every action)"
        );
        let err = map.merge_text("[mian]\nr = \"dub\"\n", path).unwrap_err();
        assert_eq!(err.line, Some(1));
        assert!(err.message.contains("unknown section [mian]"), "{err}");
        let err = map.merge_text("[main]\n\"hyper+r\" = \"dub\"\n", path).unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("unknown modifier `hyper`"), "{err}");
        let err = map.merge_text("[main]\nr = 3\n", path).unwrap_err();
        assert_eq!(err.line, Some(2));
        let err = map.merge_text("[main\n", path).unwrap_err();
        assert!(err.message.starts_with("not valid TOML"), "{err}");
    }

    #[test]
    fn missing_user_file_means_defaults() {
        let map = KeyMap::load(Path::new("/nonexistent/ferrotape/keys.toml")).expect("defaults");
        assert_eq!(map, KeyMap::defaults());
    }

    #[test]
    fn chords_parse_and_print() {
        for (text, shown) in [("r", "r"), ("R", "R"), ("shift+r", "R"), ("ctrl+s", "ctrl+s"), ("+", "+")] {
            assert_eq!(KeyChord::parse(text).map(|c| c.to_string()), Ok(shown.to_string()), "{text}");
        }
        assert_eq!(KeyChord::parse("space").map(|c| c.code), Ok(KeyCode::Char(' ')));
        assert_eq!(KeyChord::parse("shift+tab").map(|c| c.code), Ok(KeyCode::BackTab));
        assert!(KeyChord::parse("f13").is_err());
    }
}
