//! Drawing. The view is `impl Widget for &App`: it reads the state and
//! cannot change it. Layout: header, an optional message line, one strip
//! per track, a footer of the keys that matter right now.

mod overlay;
mod strip;
pub mod theme;

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::action::Action;
use super::app::{App, Overlay};
use super::keymap::KeyMode;
use crate::engine::TrackAction;
use strip::Strip;
use theme::Theme;

/// Below this the screen shows only a "too small" note.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 8;
/// From this height up the header has its second (MIDI/take) row.
const FULL_HEADER_HEIGHT: u16 = 16;
/// Rows the message line may wrap over.
const MAX_MESSAGE_ROWS: usize = 3;
/// Rows a strip uses at most: four of content and one of air.
const MAX_STRIP_ROWS: u16 = 5;

/// Where everything goes on a screen of `area`.
#[derive(Clone, Debug, PartialEq)]
pub struct ScreenLayout {
    pub header: Rect,
    pub message: Option<Rect>,
    pub strips: Vec<Rect>,
    pub footer: Rect,
}

/// Split the screen. Shared with the mouse handling so a click lands on the
/// strip that was drawn there.
pub fn screen_layout(area: Rect, track_count: usize, message_rows: u16) -> ScreenLayout {
    let header_rows = if area.height >= FULL_HEADER_HEIGHT { 2 } else { 1 };
    let header = Rect::new(area.x, area.y, area.width, header_rows);
    let message =
        (message_rows > 0).then(|| Rect::new(area.x, area.y + header_rows, area.width, message_rows));
    let footer = Rect::new(area.x, area.bottom().saturating_sub(1), area.width, 1);
    let top = area.y + header_rows + message_rows;
    let body_rows = footer.y.saturating_sub(top);
    let count = track_count.max(1) as u16;
    let each = (body_rows / count).min(MAX_STRIP_ROWS);
    let strips = (0..track_count as u16)
        .filter(|i| each > 0 && top + (i + 1) * each <= footer.y)
        .map(|i| Rect::new(area.x, top + i * each, area.width, each.min(MAX_STRIP_ROWS - 1)))
        .collect();
    ScreenLayout { header, message, strips, footer }
}

/// What the message line holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageLine {
    pub text: String,
    pub is_error: bool,
    /// Rows it takes on a screen of the width it was made for.
    pub rows: u16,
}

impl App {
    /// The message line for a screen `width` columns wide: the latest
    /// message (wrapped over up to 3 rows: a file error with its path), else
    /// the link's warning on one row, with how to read it in full.
    pub fn message_line(&self, width: u16) -> Option<MessageLine> {
        let width = usize::from(width.max(1));
        if let Some(m) = &self.message {
            let rows = (m.text.chars().count() + 2).div_ceil(width).clamp(1, MAX_MESSAGE_ROWS) as u16;
            return Some(MessageLine { text: m.text.clone(), is_error: m.is_error, rows });
        }
        if self.status.warning.is_empty() {
            return None;
        }
        Some(MessageLine { text: self.warning_line(width), is_error: true, rows: 1 })
    }

    /// "⚠ WARNING — press w for details", cut to fit `width` columns (with
    /// the space the line keeps at each end); the hint shows when there is
    /// more to read than the line holds.
    fn warning_line(&self, width: usize) -> String {
        let room = width.saturating_sub(2);
        let line = format!("⚠ {}", self.status.warning);
        let fits = line.chars().count() <= room;
        let key = self.keymap.key_for(KeyMode::Main, Action::ShowWarning).map(|k| k.to_string());
        let hint = match key {
            Some(key) if !fits || !self.status.warning_details.is_empty() => {
                format!(" — press {key} for details")
            }
            _ => String::new(),
        };
        let hint_width = hint.chars().count();
        if line.chars().count() + hint_width <= room {
            return line + &hint;
        }
        let keep = room.saturating_sub(hint_width + 1);
        let cut: String = line.chars().take(keep).collect();
        format!("{}…{hint}", cut.trim_end())
    }

    pub fn layout(&self, area: Rect) -> ScreenLayout {
        let rows = self.message_line(area.width).map_or(0, |line| line.rows);
        screen_layout(area, self.track_count(), rows)
    }
}

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = Theme { color: self.color };
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            let text = vec![
                Line::from("terminal too small"),
                Line::from(format!("{}×{}, need {MIN_WIDTH}×{MIN_HEIGHT}", area.width, area.height)),
            ];
            let y = area.y + area.height.saturating_sub(2) / 2;
            let rect = Rect::new(area.x, y, area.width, area.height.min(2));
            Paragraph::new(text).alignment(Alignment::Center).style(theme.warning()).render(rect, buf);
            return;
        }
        let layout = self.layout(area);
        self.render_header(layout.header, buf, theme);
        if let (Some(rect), Some(line)) = (layout.message, self.message_line(area.width)) {
            let style = if line.is_error { theme.error() } else { theme.warning() };
            Paragraph::new(Span::styled(format!(" {} ", line.text), style))
                .wrap(Wrap { trim: false })
                .render(rect, buf);
        }
        let shown = layout.strips.len();
        // With more tracks than rows, keep the selected one on screen.
        let first = (self.selected_track + 1).saturating_sub(shown);
        for (rect, track) in layout.strips.iter().zip(first..) {
            let strip = Strip {
                number: track + 1,
                name: self.track_name(track),
                track: &self.snapshot.tracks[track],
                meter: self.meters[track],
                selected: track == self.selected_track,
                selected_param: self.selected_param,
                theme,
            };
            strip.render(*rect, buf);
        }
        self.render_footer(layout.footer, buf, theme);
        overlay::render(self, area, buf, theme);
    }
}

/// " · 123.0 BPM 3.2 midi locked": tempo, bar.beat, source and lock state,
/// or nothing without a grid.
fn tempo_spans(grid: &crate::engine::GridState, rate: f64, theme: Theme) -> Option<Vec<Span<'static>>> {
    use crate::engine::{Lock, SyncSource};
    if grid.source == SyncSource::None && !grid.running {
        return None;
    }
    let (bar, beat) = grid.bar_beat();
    let position = if grid.running { format!(" {bar}.{beat}") } else { String::new() };
    let lock_style = if grid.lock == Lock::Waiting { theme.warning() } else { theme.label() };
    Some(vec![
        Span::styled(format!(" · {:.1} BPM", grid.tempo_bpm(rate)), theme.value()),
        Span::styled(position, theme.value()),
        Span::styled(format!(" {} {}", grid.source.name(), grid.lock.label()), lock_style),
    ])
}

impl App {
    fn render_header(&self, area: Rect, buf: &mut Buffer, theme: Theme) {
        let s = &self.status;
        let name = if self.patch.name.is_empty() { "untitled" } else { self.patch.name.as_str() };
        let mut left =
            vec![Span::styled(" ferrotape ", theme.title()), Span::styled(name.to_string(), theme.value())];
        if self.is_dirty() {
            left.push(Span::styled(" ● unsaved", theme.warning()));
        }
        if let Some(tempo) = tempo_spans(&self.snapshot.grid, f64::from(s.sample_rate.max(1)), theme) {
            left.extend(tempo);
        }
        let mut extra = String::new();
        if s.dropped_commands > 0 {
            extra.push_str(&format!(" · dropped {}", s.dropped_commands));
        }
        if self.snapshot.faults > 0 {
            extra.push_str(&format!(" · faults {}", self.snapshot.faults));
        }
        // The widest of these that fits: devices first to go, then the words.
        let latency = if s.latency.is_empty() { String::new() } else { format!("{} · ", s.latency) };
        let clock = format!(
            "{} Hz · {} fr · {latency}load {:.0}% · xruns {}{extra} ",
            s.sample_rate, s.buffer_frames, s.load_pct, s.xruns
        );
        let full = format!("{} · {clock}", s.backend);
        let short = format!("{:.0}% xr {}{extra} ", s.load_pct, s.xruns);
        let left_width: usize = left.iter().map(Span::width).sum();
        let fits = |text: &String| left_width + text.chars().count() < usize::from(area.width);
        let right = [full, clock].into_iter().find(fits).unwrap_or(short);
        split_line(left, vec![Span::styled(right, theme.label())], area.width)
            .render(Rect::new(area.x, area.y, area.width, 1), buf);
        if area.height < 2 {
            return;
        }
        let midi = if s.midi_ports.is_empty() { "none".to_string() } else { s.midi_ports.join(", ") };
        let mut left = vec![Span::styled(" MIDI ", theme.label()), Span::styled(midi, theme.value())];
        if !s.last_midi.is_empty() {
            left.push(Span::styled(format!(" · last {}", s.last_midi), theme.label()));
        }
        for part in &s.surfaces {
            left.push(Span::styled(format!(" · {part}"), theme.label()));
        }
        let take = if s.take.is_empty() { "off" } else { s.take.as_str() };
        let right =
            vec![Span::styled("take ", theme.label()), Span::styled(format!("{take} "), theme.value())];
        split_line(left, right, area.width).render(Rect::new(area.x, area.y + 1, area.width, 1), buf);
    }

    fn render_footer(&self, area: Rect, buf: &mut Buffer, theme: Theme) {
        let mode = self.key_mode();
        // Each hint with its priority: on a narrow screen the lowest go first.
        let hints: Vec<(Vec<Action>, &str, u8)> = match self.overlay {
            Overlay::None => vec![
                (vec![Action::Track(TrackAction::Record)], "rec", 7),
                (vec![Action::Track(TrackAction::Dub)], "dub", 6),
                (vec![Action::TogglePlay], "play/stop", 5),
                (vec![Action::Track(TrackAction::Undo)], "undo", 2),
                (vec![Action::PrevParam, Action::NextParam], "param", 4),
                (vec![Action::CoarseDown, Action::CoarseUp], "adjust", 3),
                (vec![Action::Learn], "learn", 0),
                (vec![Action::Save], "save", 1),
                (vec![Action::Quit], "quit", 8),
                (vec![Action::Help], "help", 9),
            ],
            Overlay::Help { .. } | Overlay::Warning { .. } => {
                vec![(vec![Action::Up, Action::Down], "scroll", 0), (vec![Action::Cancel], "close", 1)]
            }
            Overlay::Learn { .. } => vec![(vec![Action::Cancel], "cancel learn", 0)],
            Overlay::Picker { .. } => vec![
                (vec![Action::Up, Action::Down], "choose", 0),
                (vec![Action::Confirm], "open", 1),
                (vec![Action::Cancel], "cancel", 2),
            ],
            Overlay::Confirm { .. } => {
                vec![(vec![Action::Confirm], "yes", 1), (vec![Action::Cancel], "no", 0)]
            }
            Overlay::SaveAs { .. } => {
                vec![(vec![Action::Confirm], "save", 1), (vec![Action::Cancel], "cancel", 0)]
            }
        };
        let mut items: Vec<(String, &str, u8)> = hints
            .into_iter()
            .filter_map(|(actions, label, priority)| {
                let keys: Vec<String> = actions
                    .iter()
                    .filter_map(|a| self.keymap.key_for(mode, *a))
                    .map(|k| footer_key(&k))
                    .collect();
                let joined =
                    if keys.iter().all(|k| k.chars().count() == 1) { keys.concat() } else { keys.join("/") };
                (!keys.is_empty()).then_some((joined, label, priority))
            })
            .collect();
        let width = |items: &[(String, &str, u8)]| -> usize {
            1 + items.iter().map(|(k, l, _)| k.chars().count() + l.chars().count() + 3).sum::<usize>()
        };
        while items.len() > 1 && width(&items) > usize::from(area.width) {
            let lowest = items.iter().enumerate().min_by_key(|(_, item)| item.2).map_or(0, |(i, _)| i);
            items.remove(lowest);
        }
        let mut spans = vec![Span::raw(" ")];
        for (keys, label, _) in items {
            spans.push(Span::styled(keys, theme.key()));
            spans.push(Span::styled(format!(" {label}  "), theme.label()));
        }
        Line::from(spans).render(area, buf);
    }
}

/// A key as the footer shows it: "^s" for ctrl+s, to save room.
fn footer_key(chord: &super::keymap::KeyChord) -> String {
    let text = chord.to_string();
    match text.strip_prefix("ctrl+") {
        Some(rest) => format!("^{rest}"),
        None if text == "space" => "spc".into(),
        None => text,
    }
}

/// A row with `left` at the start and `right` flush against the end; the
/// right part is dropped first when they do not both fit.
fn split_line(mut left: Vec<Span<'static>>, right: Vec<Span<'static>>, width: u16) -> Line<'static> {
    let left_width: usize = left.iter().map(Span::width).sum();
    let right_width: usize = right.iter().map(Span::width).sum();
    let width = usize::from(width);
    if left_width + 1 + right_width <= width {
        left.push(Span::raw(" ".repeat(width - left_width - right_width)));
        left.extend(right);
    }
    Line::from(left)
}

/// Keys shown in the help screen for one mode: every action once, with all
/// its keys, track selection folded into one line.
pub fn help_rows(app: &App, mode: KeyMode) -> Vec<(String, String)> {
    let mut rows: Vec<(Action, Vec<String>)> = Vec::new();
    for (chord, action) in app.keymap.bindings(mode) {
        let action = match action {
            Action::SelectTrack(_) => Action::SelectTrack(0),
            other => *other,
        };
        match rows.iter_mut().find(|(a, _)| *a == action) {
            Some((_, keys)) => keys.push(chord.to_string()),
            None => rows.push((action, vec![chord.to_string()])),
        }
    }
    rows.into_iter()
        .map(|(action, keys)| match action {
            Action::SelectTrack(_) => {
                let span = match (keys.first(), keys.last()) {
                    (Some(a), Some(b)) if keys.len() > 1 => format!("{a}…{b}"),
                    _ => keys.concat(),
                };
                (span, "select a track".to_string())
            }
            _ => (keys.join(" "), action.describe()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::Patch;
    use crate::tui::KeyMap;

    /// Every action with a declared key is on the help screen, with that key
    /// and its declared help.
    #[test]
    fn help_shows_every_declared_action_key() {
        let path = std::path::Path::new("one.toml");
        let patch = Patch::parse("version = 1\n\n[[track]]\n", path).expect("a one-track patch");
        let app = App::new(KeyMap::defaults(), patch, None);
        let rows = help_rows(&app, KeyMode::Main);
        for action in TrackAction::ALL {
            let Some(key) = action.default_key() else { continue };
            let text = format!("{}: {}", action.name(), action.help());
            let Some((keys, _)) = rows.iter().find(|(_, t)| *t == text) else {
                panic!("{} is not on the help screen", action.name());
            };
            assert!(keys.split(' ').any(|k| k == key), "{}: {keys}", action.name());
        }
    }
}
