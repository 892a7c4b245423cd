//! Panels drawn over the strips: help, MIDI learn, the patch picker, a
//! yes/no question, the save-as prompt and the warning in full.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};

use super::help_rows;
use super::theme::Theme;
use crate::tui::action::Action;
use crate::tui::app::{App, Overlay};
use crate::tui::keymap::KeyMode;
use crate::tui::link::LearnWhat;

pub fn render(app: &App, area: Rect, buf: &mut Buffer, theme: Theme) {
    match &app.overlay {
        Overlay::None => {}
        Overlay::Help { scroll } => render_help(app, *scroll, area, buf, theme),
        Overlay::Learn { target } => {
            let what = match target.what {
                LearnWhat::Param(param) => format!("the knob for {}", param.key()),
                LearnWhat::Action(action) => format!("the button for {}", action.name()),
            };
            let lines = vec![
                Line::from(Span::styled(format!("Learning {}", target.describe()), theme.title())),
                Line::from(""),
                Line::from(format!("Move {what} on your controller now.")),
                Line::from(""),
                Line::from(Span::styled(
                    "Press an action's key (r, d, p, …) to learn that action instead, ←/→ for another \
                     parameter, a track key for another track.",
                    theme.label(),
                )),
                Line::from(Span::styled(
                    format!("{} cancels.", key(app, KeyMode::Learn, Action::Cancel)),
                    theme.label(),
                )),
            ];
            panel(" MIDI learn ", lines, 62, area, buf, theme);
        }
        Overlay::Picker { choices, selected } => {
            let lines = choices
                .iter()
                .enumerate()
                .map(|(i, choice)| {
                    let mark = if choice.recent { "recent " } else { "       " };
                    let text = format!(" {mark}{} ", choice.path.display());
                    let style = if i == *selected { theme.selected() } else { theme.value() };
                    Line::from(Span::styled(text, style))
                })
                .collect();
            panel(" Open a patch ", lines, 60, area, buf, theme);
        }
        Overlay::Confirm { question, .. } => {
            let yes = key(app, KeyMode::Confirm, Action::Confirm);
            let no = key(app, KeyMode::Confirm, Action::Cancel);
            let lines = vec![
                Line::from(question.clone()),
                Line::from(""),
                Line::from(vec![
                    Span::styled(yes, theme.key()),
                    Span::raw(" yes   "),
                    Span::styled(no, theme.key()),
                    Span::raw(" no"),
                ]),
            ];
            panel(" Unsaved changes ", lines, 56, area, buf, theme);
        }
        Overlay::Warning { scroll } => render_warning(app, *scroll, area, buf, theme),
        Overlay::SaveAs { text } => {
            let lines = vec![
                Line::from("Save the patch as:"),
                Line::from(vec![Span::styled(format!("{text}▏"), theme.value())]),
            ];
            panel(" Save as ", lines, 60, area, buf, theme);
        }
    }
}

fn key(app: &App, mode: KeyMode, action: Action) -> String {
    app.keymap.key_for(mode, action).map_or_else(|| "?".into(), |k| k.to_string())
}

fn render_help(app: &App, scroll: u16, area: Rect, buf: &mut Buffer, theme: Theme) {
    let mut lines = Vec::new();
    for (mode, title) in [
        (KeyMode::Main, "Playing (selected track)"),
        (KeyMode::Learn, "MIDI learn"),
        (KeyMode::Picker, "Open a patch"),
        (KeyMode::Help, "This screen"),
    ] {
        if !lines.is_empty() {
            lines.push(Line::from(""));
        }
        lines.push(Line::from(Span::styled(title, theme.title())));
        for (keys, description) in help_rows(app, mode) {
            lines.push(Line::from(vec![
                Span::styled(format!("  {keys:<14}"), theme.key()),
                Span::styled(description, theme.value()),
            ]));
        }
    }
    lines.push(Line::from(""));
    let source = super::super::keymap::user_keys_path()
        .map_or_else(|| "keys.toml in your config folder".into(), |p| p.display().to_string());
    lines.push(Line::from(Span::styled(format!("Your own keys: {source}"), theme.label())));
    let height = area.height.saturating_sub(2).max(3);
    let width = area.width.saturating_sub(4).clamp(20, 72);
    let rect = centered(area, width, height);
    Clear.render(rect, buf);
    let block = Block::default().borders(Borders::ALL).title(" Keys ").border_style(theme.title());
    Paragraph::new(lines).block(block).scroll((scroll, 0)).render(rect, buf);
}

/// The link's warning in full (device lists, what to try), wrapped.
fn render_warning(app: &App, scroll: u16, area: Rect, buf: &mut Buffer, theme: Theme) {
    let status = &app.status;
    let text = if status.warning_details.is_empty() { &status.warning } else { &status.warning_details };
    let mut lines = vec![Line::from(Span::styled(text.clone(), theme.value())), Line::from("")];
    if let Some(log) = &status.warning_log {
        lines.push(Line::from(Span::styled(format!("Also written to {}", log.display()), theme.label())));
    }
    lines.push(Line::from(Span::styled(
        format!("{} closes.", key(app, KeyMode::Help, Action::Cancel)),
        theme.label(),
    )));
    let width = area.width.saturating_sub(4).clamp(20, 76);
    let inner = width.saturating_sub(2).max(1);
    let rows: u16 = lines.iter().map(|l| (l.width() as u16).div_ceil(inner).max(1)).sum();
    let rect = centered(area, width, (rows + 2).min(area.height.saturating_sub(2)).max(3));
    Clear.render(rect, buf);
    let block = Block::default().borders(Borders::ALL).title(" Warning ").border_style(theme.error());
    Paragraph::new(lines).block(block).wrap(Wrap { trim: false }).scroll((scroll, 0)).render(rect, buf);
}

fn panel(title: &str, lines: Vec<Line<'_>>, width: u16, area: Rect, buf: &mut Buffer, theme: Theme) {
    let width = width.min(area.width.saturating_sub(2)).max(10);
    let inner = width.saturating_sub(2).max(1);
    // Rows the wrapped text needs, plus the border.
    let rows: u16 = lines.iter().map(|l| (l.width() as u16).div_ceil(inner).max(1)).sum();
    let rect = centered(area, width, (rows + 2).min(area.height));
    Clear.render(rect, buf);
    let block = Block::default().borders(Borders::ALL).title(title.to_string()).border_style(theme.title());
    Paragraph::new(lines).block(block).wrap(Wrap { trim: false }).render(rect, buf);
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect::new(area.x + (area.width - width) / 2, area.y + (area.height - height) / 2, width, height)
}
