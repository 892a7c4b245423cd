//! The server's packet handling in-process: a real socket, the surface's
//! own command ring popped as the audio side pops it, and any bytes at all.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use ringbuf::traits::{Producer as _, Split as _};
use ringbuf::HeapRb;
use rosc::{OscMessage, OscPacket, OscType};

use super::server::{OscStats, Server};
use crate::bridge::{AudioEnds, Bridge, QueueSizes};
use crate::engine::{Command, EngineSnapshot, HeadMode, Param, TimedCommand, TrackAction};
use crate::live::SharedControls;

struct Rig {
    server: Server,
    audio: AudioEnds,
    stats: Arc<OscStats>,
    from: SocketAddr,
    snapshots: ringbuf::HeapProd<EngineSnapshot>,
}

fn rig() -> Rig {
    let mut bridge = Bridge::new(QueueSizes::default());
    let commands = bridge.register("osc").unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_nonblocking(true).unwrap();
    let from = socket.local_addr().unwrap();
    let (snapshots, snapshot_rx) = HeapRb::new(4).split();
    let (requests, _) = std::sync::mpsc::sync_channel(4);
    let stats = Arc::new(OscStats::default());
    let server = Server::new(
        socket,
        commands,
        snapshot_rx,
        SharedControls::new(2),
        requests,
        stats.clone(),
        Arc::new(AtomicBool::new(false)),
        2,
    );
    Rig { server, audio: bridge.audio, stats, from, snapshots }
}

fn message(addr: &str, args: Vec<OscType>) -> Vec<u8> {
    rosc::encoder::encode(&OscPacket::Message(OscMessage { addr: addr.into(), args })).unwrap()
}

fn popped(audio: &mut AudioEnds) -> Vec<Command> {
    let mut out = [TimedCommand { offset: 0, command: Command::RecordLatency { frames: 0 } }; 64];
    let n = audio.pop_commands(&mut out, Instant::now(), 48_000.0, 256);
    out[..n].iter().map(|c| c.command).collect()
}

#[test]
fn hits_become_explicit_actions_on_the_surface_ring() {
    let mut rig = rig();
    let hit = |command: &str| message("/sl/0/hit", vec![OscType::String(command.into())]);
    rig.server.packet(&hit("record"), rig.from);
    // Before any snapshot shows it, the second hit sees what the first did.
    rig.server.packet(&hit("record"), rig.from);
    rig.server.packet(&hit("mute"), rig.from);
    rig.server.packet(&hit("mute"), rig.from);
    rig.server.packet(&message("/sl/-1/hit", vec![OscType::String("overdub".into())]), rig.from);
    let track = |track, action| Command::Track { track, action };
    assert_eq!(
        popped(&mut rig.audio),
        [
            track(0, TrackAction::Record),
            track(0, TrackAction::Play),
            track(0, TrackAction::Mute),
            track(0, TrackAction::Unmute),
            track(0, TrackAction::Dub),
            track(1, TrackAction::Dub),
        ]
    );
    // Snapshots are what the toggles read.
    let mut snapshot = EngineSnapshot { track_count: 2, sample_rate: 48_000, ..EngineSnapshot::default() };
    snapshot.tracks[1].mode = HeadMode::Dub;
    rig.snapshots.try_push(snapshot).unwrap();
    rig.server.packet(&message("/ping", vec![]), rig.from); // bad: counted, nothing else
    rig.server.run_housekeeping();
    rig.server.packet(&message("/sl/1/hit", vec![OscType::String("overdub".into())]), rig.from);
    rig.server
        .packet(&message("/sl/1/set", vec![OscType::String("wet".into()), OscType::Float(0.0)]), rig.from);
    assert_eq!(
        popped(&mut rig.audio),
        [track(1, TrackAction::Play), Command::Set { track: 1, param: Param::LevelDb, value: -120.0 }]
    );
    assert_eq!(rig.stats.bad.load(Ordering::Relaxed), 1);
}

#[test]
fn any_bytes_at_all_are_counted_never_a_panic() {
    let mut rig = rig();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let good = message("/sl/0/set", vec![OscType::String("rate".into()), OscType::Float(0.5)]);
    for i in 0..20_000 {
        let bytes: Vec<u8> = match i % 3 {
            0 => (0..random() % 200).map(|_| random() as u8).collect(),
            1 => good[..random() as usize % good.len()].to_vec(),
            _ => {
                // A good message with a few bytes flipped.
                let mut bytes = good.clone();
                for _ in 0..1 + random() % 3 {
                    let at = random() as usize % bytes.len();
                    bytes[at] ^= random() as u8;
                }
                bytes
            }
        };
        rig.server.packet(&bytes, rig.from);
        if i % 512 == 0 {
            popped(&mut rig.audio);
        }
    }
    assert!(rig.stats.bad.load(Ordering::Relaxed) > 10_000);
}

#[test]
fn a_held_button_is_momentary_and_a_tap_latches() {
    let mut rig = rig();
    let press =
        |kind: &str, command: &str| message(&format!("/sl/0/{kind}"), vec![OscType::String(command.into())]);
    let track = |action| Command::Track { track: 0, action };
    // A tap: down then up at once; the overdub latches.
    rig.server.packet(&press("down", "overdub"), rig.from);
    rig.server.packet(&press("up", "overdub"), rig.from);
    assert_eq!(popped(&mut rig.audio), [track(TrackAction::Dub)]);
    // Held past the hold time: the release goes back to play.
    rig.server.packet(&press("down", "replace"), rig.from);
    std::thread::sleep(std::time::Duration::from_millis(600));
    rig.server.packet(&press("up", "replace"), rig.from);
    assert_eq!(popped(&mut rig.audio), [track(TrackAction::Replace), track(TrackAction::Play)]);
    // An up with no down before it does nothing.
    rig.server.packet(&press("up", "record"), rig.from);
    assert_eq!(popped(&mut rig.audio), []);
}
