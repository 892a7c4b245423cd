//! The OSC socket thread: packets in, commands onto the surface's own ring,
//! replies and updates out. It reads the engine snapshots the session hands
//! it through a small ring and never waits on the audio thread: the socket
//! is non-blocking, every queue is `try_`.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringbuf::traits::Consumer as _;
use ringbuf::HeapCons;
use rosc::{OscMessage, OscPacket, OscType};

use super::address::{self, Invalid, Loops, Press, ReplyTo, Request};
use super::sl::{control_value, sl_command, sl_control, SlCommand, SL_NO_EQUIVALENT, SL_READ_ONLY};
use crate::bridge::CommandSender;
use crate::engine::{Command, EngineSnapshot, HeadMode, Param, TrackAction, TrackSnapshot};
use crate::live::{SessionRequest, SharedControls};

/// Largest packet read, bytes; a longer one is refused whole.
pub const MAX_PACKET: usize = 8192;
/// Clients registered with `/register` or `/ferrotape/register`, each.
const MAX_CLIENTS: usize = 32;
/// A `down` held this long makes its `up` end what it started.
const HOLD: Duration = Duration::from_millis(500);
/// Buttons remembered as held at once (a client that never sends `up`
/// cannot grow the list).
const MAX_HELD: usize = 256;

/// Update registrations held at once.
const MAX_UPDATES: usize = 256;
/// Messages read from one bundle (nested ones included).
const MAX_MESSAGES_PER_PACKET: usize = 64;
/// How long the thread sleeps when no packet waits, and how often it
/// sends updates at most, ms.
const IDLE_MS: u64 = 2;
const HOUSEKEEPING_MS: u64 = 5;
/// SooperLooper's bounds on an auto-update interval, ms.
pub const AUTO_UPDATE_MS: (i32, i32) = (10, 100);

/// Counters the status line shows. Relaxed atomics: statistics only.
#[derive(Debug, Default)]
pub struct OscStats {
    pub packets: AtomicU64,
    /// Packets and messages ignored: undecodable, oversized, wrong types,
    /// unknown addresses or names.
    pub bad: AtomicU64,
    /// Clients registered for updates (any kind).
    pub clients: AtomicU64,
}

/// Someone to send to.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Client {
    addr: SocketAddr,
    path: String,
}

/// One `register_update` / `register_auto_update`.
struct Update {
    track: u8,
    control: String,
    /// `None`: sent whenever it changes; else at most this often.
    interval: Option<Duration>,
    to: Client,
    last: Option<f32>,
    sent_at: Option<Instant>,
}

pub(super) struct Server {
    pub socket: UdpSocket,
    pub commands: CommandSender,
    pub snapshots: HeapCons<EngineSnapshot>,
    pub controls: SharedControls,
    pub requests: SyncSender<SessionRequest>,
    pub stats: Arc<OscStats>,
    pub stop: Arc<AtomicBool>,
    /// `osc.udp://host:port/`, for ping replies.
    pub host_url: String,
    pub track_count: usize,
    pub snapshot: EngineSnapshot,
    clients: Vec<Client>,
    native_clients: Vec<Client>,
    /// What the native clients were last sent.
    pushed: Option<EngineSnapshot>,
    updates: Vec<Update>,
    /// When a `down` arrived, per track and command, until its `up`.
    held: Vec<(u8, SlCommand, Instant)>,
}

impl Server {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        socket: UdpSocket,
        commands: CommandSender,
        snapshots: HeapCons<EngineSnapshot>,
        controls: SharedControls,
        requests: SyncSender<SessionRequest>,
        stats: Arc<OscStats>,
        stop: Arc<AtomicBool>,
        track_count: usize,
    ) -> Server {
        let host_url = match socket.local_addr() {
            Ok(addr) => format!("osc.udp://{addr}/"),
            Err(_) => "osc.udp://127.0.0.1/".into(),
        };
        let mut snapshot = EngineSnapshot { track_count, ..EngineSnapshot::default() };
        snapshot.track_count = track_count.min(snapshot.tracks.len());
        Server {
            socket,
            commands,
            snapshots,
            controls,
            requests,
            stats,
            stop,
            host_url,
            track_count,
            snapshot,
            clients: Vec::new(),
            native_clients: Vec::new(),
            pushed: None,
            updates: Vec::new(),
            held: Vec::new(),
        }
    }

    /// Until told to stop: read, act, reply; updates every few ms.
    pub fn run(mut self) {
        let mut buf = vec![0u8; MAX_PACKET + 1];
        let mut housekeeping = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) => {
                    count(&self.stats.packets);
                    if n > MAX_PACKET {
                        count(&self.stats.bad);
                    } else {
                        self.packet(&buf[..n], from);
                    }
                }
                // WouldBlock, or an ICMP error from an earlier reply: nothing to read.
                Err(_) => std::thread::sleep(Duration::from_millis(IDLE_MS)),
            }
            if housekeeping.elapsed() >= Duration::from_millis(HOUSEKEEPING_MS) {
                housekeeping = Instant::now();
                self.run_housekeeping();
            }
        }
    }

    /// Take in the newest snapshot and send the updates due.
    pub fn run_housekeeping(&mut self) {
        self.read_snapshots();
        self.send_updates();
    }

    fn read_snapshots(&mut self) {
        while let Some(snapshot) = self.snapshots.try_pop() {
            self.snapshot = snapshot;
            self.track_count = snapshot.track_count;
        }
    }

    /// Decode and act on one packet.
    pub fn packet(&mut self, bytes: &[u8], from: SocketAddr) {
        // NOTE: the decoder is trusted not to panic, but a bug there must
        // not take the instrument down: it is caught and counted as bad.
        let decoded = std::panic::catch_unwind(|| rosc::decoder::decode_udp(bytes));
        let Ok(Ok((_, packet))) = decoded else {
            count(&self.stats.bad);
            return;
        };
        let mut messages = Vec::new();
        flatten(packet, &mut messages);
        if messages.len() > MAX_MESSAGES_PER_PACKET {
            count(&self.stats.bad);
            messages.truncate(MAX_MESSAGES_PER_PACKET);
        }
        for message in messages {
            let handled = address::parse(&message).and_then(|request| self.request(request, from));
            if handled.is_err() {
                count(&self.stats.bad);
            }
        }
    }

    fn tracks(&self, loops: Loops) -> std::ops::Range<u8> {
        let count = self.track_count as u8;
        match loops {
            Loops::One(t) if t < count => t..t + 1,
            Loops::One(_) => 0..0,
            Loops::All => 0..count,
            Loops::Selected => {
                let t = self.controls.selected.get();
                t..t + 1
            }
        }
    }

    fn request(&mut self, request: Request, from: SocketAddr) -> Result<(), Invalid> {
        let loop_count = self.track_count as i32;
        match request {
            Request::Ping(reply) => self.send(&reply, from, self.ping_reply()),
            Request::Register(reply) => {
                // What a registered client is told: the same as a ping, now.
                self.send(&reply, from, self.ping_reply());
                add_client(&mut self.clients, client(&reply, from));
            }
            Request::Unregister(reply) => self.clients.retain(|c| *c != client(&reply, from)),
            Request::NativeRegister(reply) => add_client(&mut self.native_clients, client(&reply, from)),
            Request::NativeUnregister(reply) => self.native_clients.retain(|c| *c != client(&reply, from)),
            Request::Command { loops, press, command } => {
                let command = sl_command(&command).ok_or(Invalid::UnknownAddress)?;
                for track in self.tracks(loops) {
                    self.press(track, press, command);
                }
            }
            Request::Set { loops, control, value } => {
                let Some(control) = sl_control(&control) else {
                    return known(&control);
                };
                let (param, value) = control.to_param(value);
                for track in self.tracks(loops) {
                    self.commands.send_now(Command::Set { track, param, value });
                }
            }
            Request::Get { loops, control, reply } => {
                for track in self.tracks(loops) {
                    let snapshot = &self.snapshot.tracks[track as usize];
                    let Some(value) = control_value(&control, snapshot, self.snapshot.sample_rate) else {
                        return known(&control);
                    };
                    let args = vec![
                        OscType::Int(track.into()),
                        OscType::String(control.clone()),
                        OscType::Float(value),
                    ];
                    self.send(&reply, from, args);
                }
            }
            Request::RegisterUpdate { loops, control, interval_ms, reply } => {
                if control_value(&control, &TrackSnapshot::default(), 48_000).is_none() {
                    return known(&control);
                }
                let interval = interval_ms
                    .map(|ms| Duration::from_millis(ms.clamp(AUTO_UPDATE_MS.0, AUTO_UPDATE_MS.1) as u64));
                let to = client(&reply, from);
                for track in self.tracks(loops) {
                    self.updates.retain(|u| !(u.track == track && u.control == control && u.to == to));
                    if self.updates.len() < MAX_UPDATES {
                        let control = control.clone();
                        self.updates.push(Update {
                            track,
                            control,
                            interval,
                            to: to.clone(),
                            last: None,
                            sent_at: None,
                        });
                    }
                }
            }
            Request::UnregisterUpdate { loops, control, reply } => {
                let to = client(&reply, from);
                for track in self.tracks(loops) {
                    self.updates.retain(|u| !(u.track == track && u.control == control && u.to == to));
                }
            }
            Request::GlobalSet { control, value } => match control.as_str() {
                "selected_loop_num" => {
                    if value >= 0.0 {
                        self.controls.selected.set(value as u8);
                    }
                }
                "select_next_loop" => self.controls.selected.step(1),
                "select_prev_loop" => self.controls.selected.step(-1),
                other => return known(other),
            },
            Request::GlobalGet { control, reply } => {
                let value = match control.as_str() {
                    "selected_loop_num" => f32::from(self.controls.selected.get()),
                    "loop_count" => loop_count as f32,
                    "sample_rate" => self.snapshot.sample_rate as f32,
                    other => return known(other),
                };
                self.send(&reply, from, vec![OscType::String(control), OscType::Float(value)]);
            }
            Request::TrackSet { loops, param, value } => {
                let param = Param::from_key(&param).ok_or(Invalid::UnknownAddress)?;
                for track in self.tracks(loops) {
                    self.commands.send_now(Command::Set { track, param, value: param.clamp(value) });
                }
            }
            Request::TrackGet { loops, param, reply } => {
                let param = Param::from_key(&param).ok_or(Invalid::UnknownAddress)?;
                for track in self.tracks(loops) {
                    let value = self.snapshot.tracks[track as usize].params.get(param);
                    let args = vec![
                        OscType::Int(i32::from(track) + 1),
                        OscType::String(param.key().into()),
                        OscType::Float(value),
                    ];
                    self.send(&reply, from, args);
                }
            }
            Request::TrackDo { loops, action } => {
                let action = TrackAction::from_name(&action).ok_or(Invalid::UnknownAddress)?;
                for track in self.tracks(loops) {
                    self.commands.send_now(Command::Track { track, action });
                }
            }
            Request::TakeStart => self.ask(SessionRequest::StartTake),
            Request::TakeStop => self.ask(SessionRequest::StopTake),
            Request::PatchLoad(path) => self.ask(SessionRequest::Load(path.into())),
            Request::PatchSave(path) => self.ask(SessionRequest::Save(path.map(Into::into))),
        }
        self.stats.clients.store((self.clients.len() + self.native_clients.len()) as u64, Ordering::Relaxed);
        Ok(())
    }

    /// `s:host_url s:version i:loop_count`.
    fn ping_reply(&self) -> Vec<OscType> {
        vec![
            OscType::String(self.host_url.clone()),
            OscType::String(env!("CARGO_PKG_VERSION").into()),
            OscType::Int(self.track_count as i32),
        ]
    }

    /// One SooperLooper button message on one track. `down` acts like a
    /// hit; its `up` ends a record, overdub, replace, substitute or erase
    /// when the button was held for `HOLD` or longer (a tap latches, a hold
    /// is momentary, as in SooperLooper); `upforce` ends the command's
    /// operation if it is running.
    fn press(&mut self, track: u8, press: Press, command: SlCommand) {
        let seen = self.snapshot.tracks[track as usize];
        if press == Press::Down {
            self.held.retain(|(t, c, _)| (*t, *c) != (track, command));
            if self.held.len() < MAX_HELD {
                self.held.push((track, command, Instant::now()));
            }
        }
        let action = match press {
            Press::Hit | Press::Down => command.resolve(&seen),
            Press::Up => {
                let down = self.held.iter().position(|(t, c, _)| (*t, *c) == (track, command));
                let held_long = down.is_some_and(|i| self.held[i].2.elapsed() >= HOLD);
                if let Some(i) = down {
                    self.held.swap_remove(i);
                }
                match command {
                    SlCommand::Toggle(action, mode) if held_long && seen.mode == mode => action.opposite(),
                    _ => None,
                }
            }
            Press::UpForce => match command {
                SlCommand::Toggle(_, mode) if seen.mode == mode => Some(TrackAction::Play),
                SlCommand::Press(a @ (TrackAction::Multiply | TrackAction::Insert))
                    if matches!(seen.mode, HeadMode::Multiply | HeadMode::Insert) =>
                {
                    Some(a)
                }
                _ => None,
            },
        };
        if let Some(action) = action {
            if self.commands.send_now(Command::Track { track, action }) {
                // Until the next snapshot shows it, a second toggle must see
                // what the first did.
                expect(&mut self.snapshot.tracks[track as usize], action);
            }
        }
    }

    fn ask(&mut self, request: SessionRequest) {
        if self.requests.try_send(request).is_err() {
            count(&self.stats.bad);
        }
    }

    fn send(&self, reply: &ReplyTo, from: SocketAddr, args: Vec<OscType>) {
        send_to(&self.socket, &client(reply, from), args);
    }

    fn send_updates(&mut self) {
        let now = Instant::now();
        let rate = self.snapshot.sample_rate;
        for update in &mut self.updates {
            if usize::from(update.track) >= self.track_count {
                continue;
            }
            if update.interval.is_some_and(|i| update.sent_at.is_some_and(|at| now - at < i)) {
                continue;
            }
            let track = &self.snapshot.tracks[usize::from(update.track)];
            let Some(value) = control_value(&update.control, track, rate) else { continue };
            if update.last == Some(value) {
                continue;
            }
            update.last = Some(value);
            update.sent_at = Some(now);
            let args = vec![
                OscType::Int(update.track.into()),
                OscType::String(update.control.clone()),
                OscType::Float(value),
            ];
            send_to(&self.socket, &update.to, args);
        }
        self.push_native();
    }

    /// Native clients get every change of a track's mode, mute, solo and
    /// parameters: `PATH i:track s:key f:value` (mode: `s:mode s:name`).
    fn push_native(&mut self) {
        if self.native_clients.is_empty() || self.snapshot.sample_rate == 0 {
            return;
        }
        let before = self.pushed.unwrap_or_default();
        for (i, now) in self.snapshot.tracks().iter().enumerate() {
            let old = &before.tracks[i];
            let first = i >= before.track_count;
            let number = OscType::Int(i as i32 + 1);
            let mut messages: Vec<Vec<OscType>> = Vec::new();
            if first || old.mode != now.mode {
                let mode = now.mode.label().to_lowercase();
                messages.push(vec![number.clone(), OscType::String("mode".into()), OscType::String(mode)]);
            }
            for (key, was, is) in [("muted", old.muted, now.muted), ("soloed", old.soloed, now.soloed)] {
                if first || was != is {
                    messages.push(vec![
                        number.clone(),
                        OscType::String(key.into()),
                        OscType::Float(f32::from(u8::from(is))),
                    ]);
                }
            }
            for param in Param::ALL {
                if first || old.params.get(param) != now.params.get(param) {
                    let value = OscType::Float(now.params.get(param));
                    messages.push(vec![number.clone(), OscType::String(param.key().into()), value]);
                }
            }
            for args in messages {
                for client in &self.native_clients {
                    send_to(&self.socket, client, args.clone());
                }
            }
        }
        self.pushed = Some(self.snapshot);
    }
}

/// A name that is neither read nor written here is an unknown (counted);
/// SooperLooper's controls with no equivalent are ignored quietly.
fn known(name: &str) -> Result<(), Invalid> {
    if SL_NO_EQUIVALENT.contains(&name) || SL_READ_ONLY.contains(&name) || name == "tempo" {
        Ok(())
    } else {
        Err(Invalid::UnknownAddress)
    }
}

/// What the track will look like once the action applies.
fn expect(track: &mut TrackSnapshot, action: TrackAction) {
    match action {
        TrackAction::Mute => track.muted = true,
        TrackAction::Unmute => track.muted = false,
        TrackAction::Solo => track.soloed = true,
        TrackAction::Unsolo => track.soloed = false,
        TrackAction::Record => track.mode = HeadMode::Record,
        TrackAction::Dub => track.mode = HeadMode::Dub,
        TrackAction::Replace => track.mode = HeadMode::Replace,
        TrackAction::Substitute => track.mode = HeadMode::Substitute,
        TrackAction::Play => track.mode = HeadMode::Play,
        TrackAction::Pause if track.mode == HeadMode::Paused => track.mode = HeadMode::Play,
        TrackAction::Pause => track.mode = HeadMode::Paused,
        _ => {}
    }
}

/// Where a reply goes: the URL's address, or the sender's when the URL
/// names a host by name (never looked up) or cannot be read.
fn client(reply: &ReplyTo, from: SocketAddr) -> Client {
    let addr = match address::url_port(&reply.url) {
        Some((Some(ip), port)) => SocketAddr::new(ip, port),
        Some((None, port)) => SocketAddr::new(from.ip(), port),
        None => from,
    };
    Client { addr, path: reply.path.clone() }
}

fn add_client(clients: &mut Vec<Client>, client: Client) {
    if !clients.contains(&client) && clients.len() < MAX_CLIENTS {
        clients.push(client);
    }
}

/// Send one message; a failure (full buffer, unreachable) loses only it.
fn send_to(socket: &UdpSocket, to: &Client, args: Vec<OscType>) {
    if !to.path.starts_with('/') {
        return;
    }
    let packet = OscPacket::Message(OscMessage { addr: to.path.clone(), args });
    if let Ok(bytes) = rosc::encoder::encode(&packet) {
        let _ = socket.send_to(&bytes, to.addr);
    }
}

/// Every message of a packet, bundles opened (depth is bounded by the
/// packet's size limit).
fn flatten(packet: OscPacket, out: &mut Vec<OscMessage>) {
    match packet {
        OscPacket::Message(message) => out.push(message),
        OscPacket::Bundle(bundle) => {
            for inner in bundle.content {
                if out.len() > MAX_MESSAGES_PER_PACKET {
                    return;
                }
                flatten(inner, out);
            }
        }
    }
}

fn count(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}
