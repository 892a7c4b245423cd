//! One track's strip: title line (number, name, head mode, length, speed,
//! mute/solo, meter), the tape drawn as a waveform with the play head on it,
//! and the parameters. Fewer rows or columns mean fewer details, never a
//! value cut in half.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::theme::Theme;
use crate::engine::snapshot::OVERVIEW_BINS;
use crate::engine::TrackSnapshot;
use crate::tui::params::{format_value, SCREEN_PARAMS};

/// Columns of the level meter on a wide strip.
const METER_WIDTH: usize = 10;
/// The meter's and the waveform's floor in dBFS.
const FLOOR_DB: f32 = -48.0;
/// Partial block characters from empty to full, for the waveform.
const LEVELS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
/// Left margin of the tape and parameter rows, under the track name.
const INDENT: &str = "    ";

/// Everything a strip needs, borrowed from the app.
pub struct Strip<'a> {
    pub number: usize,
    pub name: &'a str,
    pub track: &'a TrackSnapshot,
    /// Meter reading with release, linear.
    pub meter: f32,
    pub selected: bool,
    /// Index into `SCREEN_PARAMS` of the parameter the adjust keys act on.
    pub selected_param: usize,
    pub theme: Theme,
}

impl Widget for &Strip<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height == 0 || area.width == 0 {
            return;
        }
        let row = |i: u16| Rect::new(area.x, area.y + i, area.width, 1);
        if area.height == 1 {
            // One row: the title with a short tape in what is left.
            self.title_line(area.width, true).render(row(0), buf);
            return;
        }
        self.title_line(area.width, false).render(row(0), buf);
        self.tape_line(area.width).render(row(1), buf);
        let rows = usize::from(area.height.min(4) - 2);
        for (i, line) in self.param_lines(area.width, rows).into_iter().enumerate() {
            line.render(row(2 + i as u16), buf);
        }
    }
}

impl Strip<'_> {
    fn title_line(&self, width: u16, with_tape: bool) -> Line<'static> {
        let theme = self.theme;
        let t = self.track;
        let width = usize::from(width);
        let length = if t.length_unset { "free".to_string() } else { format!("{:.2}s", t.length_s) };
        let speed = speed_text(t);
        // Fixed parts: marker and number, badge, length, speed, flags and the
        // spaces between; the name and the meter give way on narrow screens.
        let fixed = 3 + 1 + 1 + 7 + 8 + 1 + speed.chars().count() + 5;
        let meter_width = if width >= fixed + 14 + METER_WIDTH + 6 { METER_WIDTH } else { 5 };
        let name_width = width.saturating_sub(fixed + meter_width + 6).clamp(4, 14);

        let marker = if self.selected { "▶" } else { " " };
        let number_style = if self.selected { theme.selected() } else { theme.title() };
        let mut left = vec![
            Span::styled(marker.to_string(), theme.title()),
            Span::styled(format!("{:>2}", self.number), number_style),
            Span::raw(" "),
            Span::styled(format!("{:<name_width$.name_width$}", self.name), theme.value()),
            Span::raw(" "),
            match t.waiting {
                // "…REC": about to record, when the grid comes round.
                Some(action) => {
                    Span::styled(format!(" …{:<4.4} ", waiting_label(action)), theme.waiting_badge())
                }
                None => Span::styled(format!(" {:<5} ", t.mode.label()), theme.mode_badge(t.mode)),
            },
            Span::styled(format!(" {length:>7}"), theme.value()),
            Span::styled(format!(" {speed}"), theme.value()),
        ];
        let mut right = vec![
            Span::raw(" "),
            Span::styled("M", theme.flag(t.muted, Color::Red)),
            Span::raw(" "),
            Span::styled("S", theme.flag(t.soloed, Color::Yellow)),
            Span::raw(" "),
        ];
        right.extend(meter_spans(self.meter, meter_width, theme));
        let used: usize = left.iter().chain(right.iter()).map(Span::width).sum();
        let free = width.saturating_sub(used);
        if with_tape && free > 6 {
            left.push(Span::raw(" "));
            left.extend(self.tape_spans(free - 1));
        } else if free > 10 {
            // The pass count fills spare room; it is the first thing dropped.
            let passes = format!(" pass {}", t.passes);
            let pad = free.saturating_sub(passes.len());
            left.push(Span::styled(passes, theme.dim()));
            left.push(Span::raw(" ".repeat(pad)));
        } else {
            left.push(Span::raw(" ".repeat(free)));
        }
        left.extend(right);
        Line::from(left)
    }

    fn tape_line(&self, width: u16) -> Line<'static> {
        let mut spans = vec![Span::raw(INDENT)];
        spans.extend(self.tape_spans(usize::from(width).saturating_sub(INDENT.len() + 1)));
        Line::from(spans)
    }

    /// The loop as a row of blocks, each the loudest bin under it (in dB,
    /// so quiet layers still show), with the play head as a bright bar.
    fn tape_spans(&self, columns: usize) -> Vec<Span<'static>> {
        let t = self.track;
        if columns == 0 {
            return Vec::new();
        }
        if t.length_unset {
            return vec![Span::styled("·".repeat(columns), self.theme.dim())];
        }
        let head = ((t.position.clamp(0.0, 1.0) * columns as f32) as usize).min(columns - 1);
        let cell = |c: usize| LEVELS[level_index(column_peak(&t.overview, c, columns))];
        let style = self.theme.tape(t.mode);
        vec![
            Span::styled((0..head).map(cell).collect::<String>(), style),
            Span::styled("┃", self.theme.play_head()),
            Span::styled((head + 1..columns).map(cell).collect::<String>(), style),
        ]
    }

    /// The parameters flowed over `rows` lines of `width`, each either whole
    /// or left out; if the selected one would be left out, the list starts
    /// at it instead, so the value being adjusted is always on screen.
    fn param_lines(&self, width: u16, rows: usize) -> Vec<Line<'static>> {
        let widths: Vec<usize> = SCREEN_PARAMS
            .iter()
            .map(|sp| {
                sp.label.len() + 1 + format_value(sp.param, self.track.params.get(sp.param)).chars().count()
            })
            .collect();
        let fits = |start: usize| flow(&widths, start, usize::from(width), rows);
        let mut placed = fits(0);
        if self.selected && !placed.iter().flatten().any(|i| *i == self.selected_param) {
            placed = fits(self.selected_param);
        }
        placed.into_iter().map(|row| self.param_line(&row)).collect()
    }

    /// Items are padded by a space each side; the selected one gets
    /// brackets there instead, so it shows even without colour or bold.
    fn param_line(&self, items: &[usize]) -> Line<'static> {
        let theme = self.theme;
        let mut spans = vec![Span::raw(&INDENT[1..])];
        for &index in items {
            let screen = SCREEN_PARAMS[index];
            let value = format_value(screen.param, self.track.params.get(screen.param));
            if self.selected && index == self.selected_param {
                spans.push(Span::styled(format!("[{} {value}]", screen.label), theme.selected()));
            } else {
                spans.push(Span::styled(format!(" {}", screen.label), theme.label()));
                spans.push(Span::styled(format!(" {value} "), theme.value()));
            }
        }
        Line::from(spans)
    }
}

/// Indices of items from `start` on, packed into `rows` rows of `width`
/// columns; `widths` are the items' widths, two spaces go between them.
fn flow(widths: &[usize], start: usize, width: usize, rows: usize) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); rows];
    if rows == 0 {
        return out;
    }
    let mut row = 0;
    let mut used = INDENT.len();
    for (index, &item) in widths.iter().enumerate().skip(start) {
        if used + item > width {
            row += 1;
            used = INDENT.len();
            if row == rows {
                break;
            }
        }
        out[row].push(index);
        used += item + 2;
    }
    out
}

/// "+1.00×", or "+0.87×→+0.50×" while the motor glides to a new target.
fn speed_text(t: &TrackSnapshot) -> String {
    if (t.motor_speed - t.target_speed).abs() > 0.005 {
        format!("{:+.2}×→{:+.2}×", t.motor_speed, t.target_speed)
    } else {
        format!("{:+.2}×", t.target_speed)
    }
}

/// The loudest overview bin under screen column `c` of `columns`.
fn column_peak(overview: &[f32; OVERVIEW_BINS], c: usize, columns: usize) -> f32 {
    let start = (c * OVERVIEW_BINS / columns).min(OVERVIEW_BINS - 1);
    let end = ((c + 1) * OVERVIEW_BINS / columns).clamp(start + 1, OVERVIEW_BINS);
    overview[start..end].iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

/// Where a linear peak sits between the floor (0) and 0 dBFS (1).
fn db_fraction(peak: f32) -> f32 {
    if peak.is_nan() || peak <= 0.0 {
        return 0.0;
    }
    ((20.0 * peak.log10() - FLOOR_DB) / -FLOOR_DB).clamp(0.0, 1.0)
}

/// Which block character a linear peak gets: 0 below -48 dBFS, 8 at 0 dBFS.
fn level_index(peak: f32) -> usize {
    (db_fraction(peak) * 8.0).round() as usize
}

fn meter_spans(peak: f32, width: usize, theme: Theme) -> Vec<Span<'static>> {
    let lit = (db_fraction(peak) * width as f32).round() as usize;
    let db = if peak > 0.0 { 20.0 * peak.log10() } else { f32::NEG_INFINITY };
    let label = if db <= FLOOR_DB { "  -∞".to_string() } else { format!("{db:>4.0}") };
    vec![
        Span::styled("█".repeat(lit), theme.meter(db)),
        Span::styled("·".repeat(width - lit), theme.dim()),
        Span::styled(label, theme.dim()),
        Span::styled("dB", Style::new()),
    ]
}

/// Up to four letters for an action waiting for the grid, upper case.
fn waiting_label(action: crate::engine::TrackAction) -> String {
    use crate::engine::TrackAction;
    match action {
        TrackAction::Record => "REC".into(),
        TrackAction::Clear => "CLR".into(),
        TrackAction::Multiply => "MULT".into(),
        TrackAction::Replace => "REPL".into(),
        TrackAction::Substitute => "SUBS".into(),
        TrackAction::Oneshot => "ONCE".into(),
        TrackAction::Trigger => "TRIG".into(),
        other => other.name().to_uppercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_decibels() {
        assert_eq!(level_index(0.0), 0);
        assert_eq!(level_index(1.0), 8);
        assert_eq!(level_index(0.001), 0); // -60 dBFS is below the floor
        assert_eq!(level_index(10f32.powf(-24.0 / 20.0)), 4);
        assert_eq!(level_index(f32::NAN), 0);
    }

    #[test]
    fn columns_cover_every_bin() {
        let mut overview = [0.0; OVERVIEW_BINS];
        overview[OVERVIEW_BINS - 1] = 1.0;
        assert_eq!(column_peak(&overview, 9, 10), 1.0);
        assert_eq!(column_peak(&overview, 199, 200), 1.0);
    }

    #[test]
    fn parameters_flow_whole_and_keep_the_selected_one() {
        let widths = [10; 12];
        let rows = flow(&widths, 0, 80, 2);
        assert_eq!(rows.iter().map(Vec::len).sum::<usize>(), 12);
        assert_eq!(rows[0].len(), 6, "4 + 6 × 12 - 2 = 74 columns");
        let narrow = flow(&widths, 0, 40, 1);
        assert_eq!(narrow[0].len(), 3);
        assert_eq!(flow(&widths, 9, 40, 1)[0], vec![9, 10, 11]);
    }
}
