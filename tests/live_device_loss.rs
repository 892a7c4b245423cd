//! The audio device goes away mid-set (its JACK server stops) and comes
//! back: the session says so, keeps autosaving while the device is down (the
//! stopped engine is read directly), reopens the device with the same tapes,
//! and measures the round trip again once the input runs.
#![cfg(feature = "jack")]

mod live_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use ferrotape::session::{load_autosave, write_tape, Autosave};
use live_support::*;

const PATCH: &str =
    "version = 1\nname = \"loss\"\nseed = 2\nsample_rate = 48000\n\n[[track]]\nlength = 1.0\n";

fn now_ms() -> u128 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis()
}

#[test]
fn a_lost_device_keeps_the_session_saved_and_comes_back() {
    let Some(server) = JackServer::start("loss") else { return };
    let name = server.name.clone();
    let scratch = Scratch::new("device-loss");
    let patch = scratch.write("loss.toml", PATCH);
    let tapes = ferrotape::session::tapes_dir(&patch);
    std::fs::create_dir_all(&tapes).unwrap();
    let tape: Vec<f32> = (0..48_000).map(|i| ((i as f32) * 0.01).sin() * 0.3).collect();
    write_tape(&tapes.join("track-01.wav"), &tape, 48_000).unwrap();
    let mut child = Command::new(binary())
        .args(["play", patch.to_str().unwrap(), "--no-tui", "--duration", "6", "--autosave"])
        .args(["--autosave-every", "0.5", "--no-virtual-midi"])
        .env("XDG_STATE_HOME", &scratch.0)
        .envs(server.env())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ferrotape");
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let reader = {
        let lines = lines.clone();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        })
    };
    let said = |what: &str| lines.lock().unwrap().iter().any(|l| l.contains(what));
    let wait_for = |what: &str, limit: Duration| {
        let deadline = Instant::now() + limit;
        while !said(what) {
            assert!(Instant::now() < deadline, "never said {what:?}: {:?}", lines.lock().unwrap());
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for("latency", Duration::from_secs(15));
    std::thread::sleep(Duration::from_secs(1));

    // The device goes away.
    drop(server);
    let lost_at = now_ms();
    wait_for("went away", Duration::from_secs(15));
    std::thread::sleep(Duration::from_secs(2));
    let autosave = Autosave::beside(&patch);
    let (number, dir) = autosave.list().pop().expect("autosaves");
    assert!(number > lost_at + 500, "no autosave while the device was down ({number} vs {lost_at})");
    let saved = load_autosave(&dir, 48_000).expect("the autosave loads");
    assert_eq!(saved.tapes[0].as_deref(), Some(&tape[..]), "the tape is kept while down");

    // It comes back under the same name: the session reopens it.
    let server = JackServer::start("loss").expect("jackd again");
    assert_eq!(server.name, name, "the same server name");
    wait_for("audio is back", Duration::from_secs(20));
    let back = lines.lock().unwrap().len();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = child.wait();
    reader.join().unwrap();
    assert!(Instant::now() < deadline);
    assert!(status.unwrap().success(), "{:?}", lines.lock().unwrap());
    let lines = lines.lock().unwrap();
    // After the reopen the round trip is read again (off the native
    // client's port latencies) and playing goes on.
    let after: Vec<&String> = lines[back..].iter().filter(|l| l.starts_with("t ")).collect();
    assert!(after.iter().any(|l| l.contains("from JACK port latencies")), "{lines:?}");
    drop(server);
}
