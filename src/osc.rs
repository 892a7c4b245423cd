//! The OSC server: a surface of the live session that speaks
//! SooperLooper's OSC protocol (so its clients and control-surface layouts
//! work unchanged) and a native namespace for what SooperLooper lacks.
//!
//! - `config.rs`: `--osc [PORT]`, `--osc-bind ADDR`, the patch's `[osc]` table.
//! - `address.rs`: OSC messages to checked [`address::Request`]s (types, loop numbers).
//! - `sl.rs`: SooperLooper's commands, controls and state numbers, mapped in one place.
//! - `server.rs`: the socket thread: commands onto the surface's ring, replies, updates.
//!
//! Off unless asked for; loopback unless a bind address says otherwise.
//! The protocol and its mapping are documented in `docs/osc.md`.

pub mod address;
pub mod config;
pub mod server;
pub mod sl;
#[cfg(test)]
mod tests;

pub use config::{OscOptions, OscTable, DEFAULT_PORT};
pub use server::OscStats;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use ringbuf::traits::{Producer as _, Split as _};
use ringbuf::{HeapProd, HeapRb};

use crate::engine::EngineSnapshot;
use crate::live::{Component, ComponentStatus, SessionRequest, SessionView, Setup};

/// Snapshots waiting for the OSC thread; it only ever wants the newest.
const SNAPSHOT_RING: usize = 4;
/// Session requests (takes, patches) waiting for the session's tick.
const REQUEST_QUEUE: usize = 16;

/// The OSC surface of a run.
pub struct OscSurface {
    options: OscOptions,
    /// Until [`Component::start`] binds the socket.
    pending_parts: Option<PendingParts>,
    thread: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    stats: Arc<OscStats>,
    snapshots: HeapProd<EngineSnapshot>,
    requests: Receiver<SessionRequest>,
    bound: Option<SocketAddr>,
}

/// What the thread gets once the socket is bound.
struct PendingParts {
    commands: crate::bridge::CommandSender,
    snapshots: ringbuf::HeapCons<EngineSnapshot>,
    controls: crate::live::SharedControls,
    requests: std::sync::mpsc::SyncSender<SessionRequest>,
    track_count: usize,
}

/// Wanted with `--osc` or the patch's `[osc]` table.
pub fn surface(setup: &mut Setup<'_>) -> Option<Box<dyn Component>> {
    let options = OscOptions::merged(setup.options.osc, setup.patch.osc)?;
    let commands = setup.register("osc")?;
    let (snapshots, snapshot_rx) = HeapRb::new(SNAPSHOT_RING).split();
    let (request_tx, requests) = sync_channel(REQUEST_QUEUE);
    let parts = PendingParts {
        commands,
        snapshots: snapshot_rx,
        controls: setup.controls.clone(),
        requests: request_tx,
        track_count: setup.track_count,
    };
    Some(Box::new(OscSurface {
        options,
        pending_parts: Some(parts),
        thread: None,
        stop: Arc::new(AtomicBool::new(false)),
        stats: Arc::new(OscStats::default()),
        snapshots,
        requests,
        bound: None,
    }))
}

impl OscSurface {
    /// The address the server listens on, once started.
    pub fn bound(&self) -> Option<SocketAddr> {
        self.bound
    }

    pub fn stats(&self) -> &OscStats {
        &self.stats
    }
}

impl Component for OscSurface {
    fn name(&self) -> &'static str {
        "osc"
    }

    fn start(&mut self) -> Result<(), String> {
        let Some(parts) = self.pending_parts.take() else { return Ok(()) };
        let address = self.options.address();
        let socket = UdpSocket::bind(address).map_err(|e| format!("OSC: cannot listen on {address}: {e}"))?;
        socket.set_nonblocking(true).map_err(|e| format!("OSC: {e}"))?;
        self.bound = socket.local_addr().ok();
        let server = server::Server::new(
            socket,
            parts.commands,
            parts.snapshots,
            parts.controls,
            parts.requests,
            self.stats.clone(),
            self.stop.clone(),
            parts.track_count,
        );
        let thread = std::thread::Builder::new()
            .name("ferrotape-osc".into())
            .spawn(move || server.run())
            .map_err(|e| format!("OSC: cannot start its thread: {e}"))?;
        self.thread = Some(thread);
        Ok(())
    }

    fn observe(&mut self, snapshot: &EngineSnapshot) {
        // A full ring means the thread has not caught up: it gets the next one.
        let _ = self.snapshots.try_push(*snapshot);
    }

    fn tick(&mut self, _view: &SessionView, requests: &mut Vec<SessionRequest>) {
        while let Ok(request) = self.requests.try_recv() {
            requests.push(request);
        }
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            // The thread sleeps at most a few ms between packets.
            let _ = thread.join();
        }
    }

    fn status(&self) -> ComponentStatus {
        let Some(bound) = self.bound else { return ComponentStatus::default() };
        let line = format!(
            "osc {bound} clients {} bad {}",
            self.stats.clients.load(Ordering::Relaxed),
            self.stats.bad.load(Ordering::Relaxed)
        );
        let warning = self.options.is_exposed().then(|| {
            format!("OSC listens on {bound}: anyone who can reach that address can play the instrument")
        });
        ComponentStatus { line: Some(line), warning }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}
