//! The screen's loop: read events, act, redraw from the latest snapshot at
//! about 30 frames a second. It never waits on audio: the link's methods
//! return at once, and a slow terminal only delays the next frame.

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::Backend;
use ratatui::layout::Rect;
use ratatui::Terminal;

use super::app::App;
use super::link::InstrumentLink;

/// Time between frames: 30 per second.
pub const FRAME: Duration = Duration::from_millis(33);

/// What an [`EventSource`] had within the timeout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Polled {
    Event(Event),
    /// Nothing happened; time to redraw.
    Idle,
    /// There will be no more events (a script ran out).
    Closed,
}

/// Where the loop's input comes from: the terminal, or a script in tests.
pub trait EventSource {
    /// Wait at most `timeout` for the next event.
    fn next(&mut self, timeout: Duration) -> io::Result<Polled>;
}

/// Why [`run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The performer quit.
    Quit,
    /// The event source closed.
    InputClosed,
}

/// Run the screen until the performer quits or the events end.
pub fn run<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    link: &mut dyn InstrumentLink,
    mut events: impl EventSource,
) -> io::Result<Exit> {
    let mut next_draw = Instant::now();
    loop {
        app.absorb(link);
        // A quit asked for from outside (SIGTERM, SIGINT) ends the screen too;
        // the session then finishes the take and the autosave.
        if app.should_quit() || link.stop_requested() {
            return Ok(Exit::Quit);
        }
        if Instant::now() >= next_draw {
            draw(terminal, app)?;
            next_draw = Instant::now() + FRAME;
        }
        match events.next(next_draw.saturating_duration_since(Instant::now()))? {
            Polled::Event(event) => {
                app.handle_event(&event, link);
                // Answer a key press with a frame right away, not up to 33 ms later.
                next_draw = Instant::now();
            }
            Polled::Idle => {}
            Polled::Closed => {
                app.absorb(link);
                draw(terminal, app)?;
                return Ok(Exit::InputClosed);
            }
        }
    }
}

/// Draw one frame of `app`.
pub fn draw<B: Backend>(terminal: &mut Terminal<B>, app: &mut App) -> io::Result<()> {
    let size = terminal.size()?;
    app.area = Rect::new(0, 0, size.width, size.height);
    terminal.draw(|frame| frame.render_widget(&*app, frame.area()))?;
    Ok(())
}

/// Events from the real terminal.
pub struct TerminalEvents;

impl EventSource for TerminalEvents {
    fn next(&mut self, timeout: Duration) -> io::Result<Polled> {
        if event::poll(timeout)? {
            Ok(Polled::Event(event::read()?))
        } else {
            Ok(Polled::Idle)
        }
    }
}

/// A fixed list of events, for tests and demos; closes when empty.
#[derive(Clone, Debug, Default)]
pub struct ScriptedEvents {
    events: VecDeque<Event>,
}

impl ScriptedEvents {
    pub fn new() -> ScriptedEvents {
        ScriptedEvents::default()
    }

    /// Keys as typed: each character a key press; `<name>` for a named key
    /// or chord in keymap notation (`<esc>`, `<ctrl+s>`, `<right>`). A `<`
    /// that does not start such a name is the key `<` itself.
    pub fn keys(text: &str) -> ScriptedEvents {
        let mut script = ScriptedEvents::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            let named = rest
                .strip_prefix('<')
                .and_then(|tail| tail.split_once('>'))
                .filter(|(name, _)| name.chars().count() > 1)
                .and_then(|(name, after)| super::keymap::KeyChord::parse(name).ok().map(|k| (k, after)));
            match named {
                Some((chord, after)) => {
                    script.push(Event::Key(KeyEvent::new(chord.code, chord.modifiers)));
                    rest = after;
                }
                None => {
                    script.push(Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)));
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        script
    }

    pub fn push(&mut self, event: Event) {
        self.events.push_back(event);
    }
}

impl EventSource for ScriptedEvents {
    fn next(&mut self, _timeout: Duration) -> io::Result<Polled> {
        Ok(self.events.pop_front().map_or(Polled::Closed, Polled::Event))
    }
}
