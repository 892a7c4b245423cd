//! The real screen, end to end (build with `--features jack`): ferrotape runs
//! in a tmux pane on a private JACK server; keys are sent with `tmux
//! send-keys`, the pane is read with `capture-pane`, and a test client feeds a
//! tone in and records what comes out.
#![cfg(feature = "jack")]

mod live_support;

use ferrotape::analysis::{db, frequency, rms};
use jack::PortFlags;
use live_support::tmux::{tmux_available, Tmux};
use live_support::*;
use std::process::Command;
use std::time::{Duration, Instant};

const TONE_HZ: f64 = 440.0;

#[test]
fn keys_on_the_screen_record_a_loop_that_plays_back() {
    if !tmux_available() {
        return;
    }
    let Some(server) = JackServer::start("tui") else { return };
    let scratch = Scratch::new("tui-tmux");
    let patch = scratch.write("patch.toml", CLEAN_PATCH);
    let takes = scratch.0.join("takes");

    // The test client: a sine out, ferrotape's output in.
    for (key, value) in server.env() {
        std::env::set_var(key, value);
    }
    let (active, heard, rate) = tone_client("screen-tester", TONE_HZ, 0.25);

    // The screen, in a pane of its own (a tmux server does not inherit our
    // environment: pass it with `env`).
    let session = Tmux(format!("ferrotape-{}", std::process::id()));
    let mut command = vec!["env".to_string()];
    command.extend(server.env().into_iter().map(|(k, v)| format!("{k}={v}")));
    command.push(format!("XDG_STATE_HOME={}", scratch.0.join("state").display()));
    command.push(format!("XDG_CONFIG_HOME={}", scratch.0.join("config").display()));
    command.push(binary().display().to_string());
    command.extend([patch.display().to_string(), "--input-channel".into(), "1".into()]);
    command.extend(["--takes".into(), takes.display().to_string()]);
    let started = Command::new("tmux")
        .args(["new-session", "-d", "-s", &session.0, "-x", "100", "-y", "30", &command.join(" ")])
        .status()
        .expect("tmux new-session");
    assert!(started.success());
    session.wait_for("PLAY", Duration::from_secs(20));

    // Wire the tone in and the output back, once ferrotape's ports exist.
    let c = active.as_client();
    let find = |pattern: &str| c.ports(Some(pattern), None, PortFlags::empty()).into_iter().next();
    let deadline = Instant::now() + Duration::from_secs(10);
    let (input, output) = loop {
        if let (Some(i), Some(o)) = (find("^ferrotape:in_1$"), find("^ferrotape:out_L$")) {
            break (i, o);
        }
        assert!(Instant::now() < deadline, "ferrotape's ports did not appear");
        std::thread::sleep(Duration::from_millis(20));
    };
    let connect = |from: &str, to: &str| {
        let deadline = Instant::now() + Duration::from_secs(3);
        while let Err(e) = c.connect_ports_by_name(from, to) {
            assert!(Instant::now() < deadline, "cannot connect {from} to {to}: {e}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    connect("screen-tester:tone", &input);
    connect(&output, "screen-tester:heard");
    std::thread::sleep(Duration::from_millis(500));

    // Record over the whole 1 s loop, then play it.
    session.keys("r");
    let recording = session.wait_for("REC", Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(1_500));
    session.keys("p");
    let playing = session.wait_for("PLAY", Duration::from_secs(5));
    heard.lock().unwrap().clear();
    std::thread::sleep(Duration::from_millis(2_000));
    let played = heard.lock().unwrap().clone();

    // A take from the screen: `t` starts it, `t` again stops and saves it.
    session.keys("t");
    session.wait_for("take: recording", Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(700));
    session.keys("t");
    session.wait_for("take: stopped", Duration::from_secs(5));
    session.keys("q");
    std::thread::sleep(Duration::from_millis(300));
    if session.capture().contains("unsaved") {
        session.keys("y");
    }
    drop(active);

    // What came out while playing is the recorded tone, at its pitch and level.
    assert!(played.len() as f64 > 1.5 * rate, "too little audio came back: {} frames", played.len());
    let tail = &played[played.len() / 4..];
    let mut quarters: Vec<f64> = tail.chunks((rate / 4.0) as usize).map(|w| frequency(w, rate)).collect();
    quarters.sort_by(f64::total_cmp);
    let f = quarters[quarters.len() / 2];
    let level = db(rms(tail));
    println!("screen: loop {f:.2} Hz at {level:.2} dBFS");
    assert!((f - TONE_HZ).abs() < 0.5, "the loop plays {f:.2} Hz ({quarters:?})");
    assert!(level > -30.0, "the loop is too quiet: {level:.1} dBFS\n{playing}");
    assert!(recording.contains("REC"), "{recording}");

    // The take landed on disk with its files.
    let deadline = Instant::now() + Duration::from_secs(10);
    let take = loop {
        let found = std::fs::read_dir(&takes)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.join("take.toml").is_file() && p.join("mix.wav").is_file());
        if let Some(take) = found {
            break take;
        }
        assert!(Instant::now() < deadline, "no take folder in {}", takes.display());
        std::thread::sleep(Duration::from_millis(100));
    };
    let mix = hound::WavReader::open(take.join("mix.wav")).expect("the take's mix opens");
    assert!(mix.duration() > (0.3 * rate) as u32, "the take holds {} frames", mix.duration());
}
