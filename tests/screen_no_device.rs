//! The real screen on a machine with no sound card, in tmux: it starts on the
//! null backend, the header names the rate and block once, the warning is one
//! row that says how to read it in full, `w` shows the whole message, and the
//! audio log keeps it. ALSA's default device is pointed at a card that does
//! not exist, and JACK at a server that does not run, so every machine is
//! one without a sound card here.

mod live_support;

use live_support::tmux::{tmux_available, Tmux};
use live_support::*;
use std::process::Command;
use std::time::Duration;

fn screen_without_a_sound_card(width: u16, height: u16) {
    let scratch = Scratch::new(&format!("no-device-{width}"));
    let patch = scratch.write("patch.toml", CLEAN_PATCH);
    let state = scratch.0.join("state");
    let session = Tmux(format!("ferrotape-no-device-{width}-{}", std::process::id()));
    let mut command = vec![
        "env".to_string(),
        format!("ALSA_CONFIG_PATH={}", alsa_config("no_device.conf")),
        format!("JACK_DEFAULT_SERVER=ferrotape-absent-{}", std::process::id()),
        "JACK_NO_START_SERVER=1".into(),
        format!("XDG_STATE_HOME={}", state.display()),
        format!("XDG_CONFIG_HOME={}", scratch.0.join("config").display()),
        binary().display().to_string(),
        patch.display().to_string(),
        "--no-virtual-midi".into(),
        "--takes".into(),
        scratch.0.join("takes").display().to_string(),
    ];
    command.push("2>/dev/null".into());
    let started = Command::new("tmux")
        .args(["new-session", "-d", "-s", &session.0, "-x", &width.to_string(), "-y", &height.to_string()])
        .arg(command.join(" "))
        .status()
        .expect("tmux new-session");
    assert!(started.success());

    let screen = session.wait_for("press w for details", Duration::from_secs(20));
    let rows: Vec<&str> = screen.lines().collect();
    let header = rows[0];
    assert_eq!(header.matches("48000 Hz · 256 fr").count(), 1, "rate and block once: {header}");
    assert_eq!(header.matches("Hz").count(), 1, "{header}");
    if width >= 120 {
        assert!(header.contains("null audio (no hardware) · 48000 Hz"), "{header}");
    }
    let warning = rows.iter().position(|r| r.contains('⚠')).expect("a warning row");
    assert_eq!(
        rows[warning].trim(),
        "⚠ no audio device: running on the null backend — press w for details",
        "{screen}"
    );
    assert!(rows[warning].chars().count() <= usize::from(width));
    assert!(rows[warning + 1].starts_with("▶ 1"), "the warning is one row:\n{screen}");

    session.keys("w");
    let details = session.wait_for("Warning", Duration::from_secs(5));
    let flat: String = details.split(['│', '\n']).map(str::trim).collect::<Vec<_>>().join(" ");
    for words in ["no audio output:", "try --audio null", "ferrotape devices", "running on the null backend"]
    {
        assert!(flat.contains(words), "{words}:\n{details}");
    }
    assert!(flat.contains("audio.log"), "the panel says where the log is:\n{details}");
    session.keys("Escape");
    session.keys("q");
    std::thread::sleep(Duration::from_millis(500));
    if session.capture().contains("unsaved") {
        session.keys("y");
    }

    let log = std::fs::read_to_string(state.join("ferrotape/audio.log")).expect("the audio log");
    let logged =
        log.lines().find(|l| l.starts_with("ferrotape: no audio device (")).expect("the warning in full");
    assert!(
        logged.contains("try --audio null") && logged.ends_with("running on the null backend"),
        "{logged}"
    );
}

#[test]
fn the_screen_without_a_sound_card_warns_in_one_row() {
    if !tmux_available() {
        return;
    }
    screen_without_a_sound_card(80, 24);
    screen_without_a_sound_card(120, 40);
}
