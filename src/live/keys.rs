//! The screen's keys as a surface: commands the screen sends through
//! [`LiveSession::send`](super::LiveSession::send) go onto this ring.

use super::component::{Component, Setup};
use crate::bridge::{CommandSender, CommandSink as _};
use crate::engine::Command;

/// The keys' command ring.
pub struct KeysSurface {
    sender: CommandSender,
}

/// Every session has keys (the screen, or a program driving the session).
pub fn surface(setup: &mut Setup<'_>) -> Option<Box<dyn Component>> {
    let sender = setup.register("keys")?;
    Some(Box::new(KeysSurface { sender }))
}

impl KeysSurface {
    /// Queue a command that happens now; false when the ring was full.
    pub fn send(&mut self, command: Command) -> bool {
        self.sender.send(command, std::time::Instant::now())
    }
}

impl Component for KeysSurface {
    fn name(&self) -> &'static str {
        "keys"
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}
