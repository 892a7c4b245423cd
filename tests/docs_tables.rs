//! The documentation's tables of actions and parameters say exactly what
//! their declarations (`engine/action.rs`, `engine/params.rs`) say: same
//! entries, same order, same names, keys, help, buttons and ranges.

use ferrotape::engine::{Button, Param, TrackAction};

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// The rows (cells trimmed, header and separator dropped) of the first table
/// under the heading `heading` (a whole line, e.g. `### Actions`).
fn table_under(doc: &str, path: &str, heading: &str) -> Vec<Vec<String>> {
    let mut lines = doc.lines().skip_while(|line| line.trim() != heading);
    assert!(lines.next().is_some(), "{path} has no heading {heading:?}");
    let rows: Vec<Vec<String>> = lines
        .take_while(|line| !line.starts_with('#'))
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(|line| line.trim().trim_matches('|').split('|').map(|cell| cell.trim().to_string()).collect())
        .collect();
    assert!(!rows.is_empty(), "{path}: no table under {heading:?}");
    rows
}

fn code(text: &str) -> String {
    format!("`{text}`")
}

fn names(rows: &[Vec<String>], column: usize) -> Vec<String> {
    rows.iter().map(|cells| cells.get(column).cloned().unwrap_or_default()).collect()
}

fn declared_names() -> Vec<String> {
    TrackAction::ALL.iter().map(|a| code(a.name())).collect()
}

#[test]
fn midi_action_table_matches_the_declaration() {
    let rows = table_under(&read("docs/midi.md"), "docs/midi.md", "### Actions");
    assert_eq!(names(&rows, 0), declared_names(), "docs/midi.md: the actions, in order");
    for (cells, action) in rows.iter().zip(TrackAction::ALL) {
        let off = match action.opposite() {
            Some(other) if other == action => "itself".to_string(),
            Some(other) => code(other.name()),
            None => "—".to_string(),
        };
        let expected = [
            code(action.name()),
            action.help().to_string(),
            action.button().mode_name().to_string(),
            off,
            code(action.osc_name()),
        ];
        assert_eq!(cells[..], expected[..], "docs/midi.md: {}", action.name());
    }
}

#[test]
fn manual_key_table_matches_the_declaration() {
    let rows = table_under(&read("docs/manual.md"), "docs/manual.md", "### Track actions");
    assert_eq!(names(&rows, 1), declared_names(), "docs/manual.md: the actions, in order");
    for (cells, action) in rows.iter().zip(TrackAction::ALL) {
        let key = action.default_key().map_or_else(|| "—".to_string(), code);
        let expected = [key, code(action.name()), action.help().to_string()];
        assert_eq!(cells[..], expected[..], "docs/manual.md: {}", action.name());
    }
}

#[test]
fn events_action_table_matches_the_declaration() {
    let rows = table_under(&read("docs/patch-format.md"), "docs/patch-format.md", "### Actions");
    assert_eq!(names(&rows, 0), declared_names(), "docs/patch-format.md: the actions, in order");
    for (cells, action) in rows.iter().zip(TrackAction::ALL) {
        let expected = [code(action.name()), action.help().to_string()];
        assert_eq!(cells[..], expected[..], "docs/patch-format.md: {}", action.name());
    }
}

/// The always-on paragraph names the actions that start a take, no more.
#[test]
fn takes_name_the_actions_that_start_them() {
    let doc = read("docs/takes.md");
    let paragraph =
        doc.split("\n\n").find(|p| p.starts_with("**Always-on mode**")).expect("docs/takes.md: always-on");
    let named: Vec<TrackAction> =
        paragraph.split('`').skip(1).step_by(2).filter_map(TrackAction::from_name).collect();
    let starting: Vec<TrackAction> = TrackAction::ALL.into_iter().filter(|a| a.starts_take()).collect();
    assert_eq!(named, starting);
}

/// Buttons in the table read as the MIDI modes they are learned as.
#[test]
fn buttons_name_midi_modes() {
    for action in TrackAction::ALL {
        let mode = action.button().mode_name();
        assert!(["trigger", "toggle", "momentary"].contains(&mode));
        if matches!(action.button(), Button::Momentary { .. } | Button::Toggle { .. }) {
            assert!(action.opposite().is_some(), "{}", action.name());
        }
    }
}

/// The parameter table in `docs/patch-format.md` must match `Param::spec`.
#[test]
fn parameter_table_matches_param_specs() {
    let path = "docs/patch-format.md";
    let rows = table_under(&read(path), path, "### Parameters");
    let expected_keys: Vec<String> = Param::ALL.iter().map(|p| code(p.key())).collect();
    assert_eq!(names(&rows, 0), expected_keys, "the documented parameters, in order");
    for (cells, param) in rows.iter().zip(Param::ALL) {
        let spec = param.spec();
        assert_eq!(cells.len(), 6, "{}", spec.key);
        let unit = if spec.unit.is_empty() { "—" } else { spec.unit };
        assert_eq!(cells[1], unit, "unit of {}", spec.key);
        let number = |cell: &str| cell.parse::<f32>().unwrap_or_else(|_| panic!("{}: {cell:?}", spec.key));
        assert_eq!(number(&cells[2]), spec.min, "min of {}", spec.key);
        assert_eq!(number(&cells[3]), spec.max, "max of {}", spec.key);
        assert_eq!(number(&cells[4]), spec.default, "default of {}", spec.key);
    }
}

/// The MIDI manual's `set` row lists every parameter, in order.
#[test]
fn midi_targets_list_every_parameter() {
    let path = "docs/midi.md";
    let rows = table_under(&read(path), path, "### Targets");
    let set = rows.iter().find(|cells| cells[0] == "`set`").expect("a `set` row");
    let listed: Vec<&str> =
        set[1].split('`').skip(1).step_by(2).filter(|name| Param::from_key(name).is_some()).collect();
    let expected: Vec<&str> = Param::ALL.iter().map(|p| p.key()).collect();
    assert_eq!(listed, expected);
}

/// Every OSC command the server understands is in `docs/osc.md`'s command table.
#[test]
fn the_osc_command_table_names_every_command() {
    let doc = std::fs::read_to_string("docs/osc.md").expect("docs/osc.md");
    let section =
        doc.split("### Commands").nth(1).and_then(|s| s.split("### ").next()).expect("a Commands section");
    for name in ferrotape::osc::sl::sl_command_names() {
        assert!(section.contains(&format!("`{name}`")), "`{name}` is not in docs/osc.md's command table");
    }
}
