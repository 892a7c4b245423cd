//! Colours and emphasis. Every style passes through [`Theme::paint`], which
//! drops colours when NO_COLOR is set, so bold and reverse carry the meaning.

use ratatui::style::{Color, Modifier, Style};

use crate::engine::HeadMode;

#[derive(Clone, Copy, Debug)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub fn paint(self, style: Style) -> Style {
        if self.color {
            style
        } else {
            Style { fg: None, bg: None, underline_color: None, ..style }
        }
    }

    /// A head-mode badge, readable from across a room: bold on a solid block.
    /// A press waiting for the grid: slow blink, like a looper's WAIT lamp.
    pub fn waiting_badge(self) -> Style {
        let style = Style::new().add_modifier(Modifier::BOLD | Modifier::SLOW_BLINK);
        if self.color {
            style.fg(Color::Black).bg(Color::Cyan)
        } else {
            style.add_modifier(Modifier::UNDERLINED)
        }
    }

    pub fn mode_badge(self, mode: HeadMode) -> Style {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        if !self.color {
            // Without colour, the writing modes (the ones that change the
            // tape) are the ones that must jump out.
            return match mode {
                mode if mode.writes() => bold.add_modifier(Modifier::REVERSED),
                HeadMode::Stop | HeadMode::Paused => Style::new(),
                _ => bold,
            };
        }
        match mode {
            HeadMode::Record | HeadMode::Replace | HeadMode::Substitute => {
                bold.fg(Color::White).bg(Color::Red)
            }
            HeadMode::Dub | HeadMode::Multiply => bold.fg(Color::Black).bg(Color::Yellow),
            HeadMode::Insert => bold.fg(Color::Black).bg(Color::LightRed),
            HeadMode::Erase => bold.fg(Color::White).bg(Color::Magenta),
            HeadMode::Play | HeadMode::Oneshot => bold.fg(Color::Black).bg(Color::Green),
            HeadMode::Stop | HeadMode::Paused => bold.fg(Color::White).bg(Color::DarkGray),
        }
    }

    /// The colour of the tape drawing: the mode's colour, so a strip reads at a glance.
    pub fn tape(self, mode: HeadMode) -> Style {
        let color = match mode {
            HeadMode::Record | HeadMode::Replace | HeadMode::Substitute => Color::Red,
            HeadMode::Dub | HeadMode::Multiply => Color::Yellow,
            HeadMode::Insert => Color::LightRed,
            HeadMode::Erase => Color::Magenta,
            HeadMode::Play | HeadMode::Oneshot => Color::Green,
            HeadMode::Stop | HeadMode::Paused => Color::Gray,
        };
        self.paint(Style::new().fg(color))
    }

    pub fn play_head(self) -> Style {
        self.block(Color::White)
    }

    pub fn dim(self) -> Style {
        self.paint(Style::new().fg(Color::DarkGray))
    }

    pub fn label(self) -> Style {
        self.paint(Style::new().fg(Color::Gray))
    }

    pub fn value(self) -> Style {
        self.paint(Style::new().fg(Color::White))
    }

    /// The parameter the adjust keys act on.
    pub fn selected(self) -> Style {
        self.block(Color::Cyan)
    }

    /// Black on a colour block, or reverse video without colour.
    fn block(self, color: Color) -> Style {
        if self.color {
            Style::new().fg(Color::Black).bg(color).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        }
    }

    pub fn title(self) -> Style {
        self.paint(Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD))
    }

    pub fn key(self) -> Style {
        self.paint(Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD))
    }

    pub fn warning(self) -> Style {
        self.paint(Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD))
    }

    pub fn error(self) -> Style {
        if self.color {
            Style::new().fg(Color::White).bg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        }
    }

    pub fn flag(self, on: bool, color: Color) -> Style {
        if on {
            self.block(color)
        } else {
            self.dim()
        }
    }

    /// Meter segments: green, yellow above -12 dBFS, red above -3.
    pub fn meter(self, db: f32) -> Style {
        let color = if db > -3.0 {
            Color::Red
        } else if db > -12.0 {
            Color::Yellow
        } else {
            Color::Green
        };
        self.paint(Style::new().fg(color))
    }
}
