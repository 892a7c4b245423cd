//! Shared by the live tests: a private JACK server on its dummy driver,
//! the binary, and a clean one-track patch with an events file.
#![allow(dead_code)]

pub mod tmux;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ferrotape"))
}

/// A JACK server (dummy driver, 48 kHz, 256 frames) with a unique name,
/// stopped and reaped on drop.
pub struct JackServer {
    pub name: String,
    child: Child,
}

impl JackServer {
    /// Start one, or `None` (with a printed reason) when jackd is not
    /// installed. Under CI (`CI=true`) a missing jackd fails the test.
    pub fn start(tag: &str) -> Option<JackServer> {
        if Command::new("jackd")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            let message = "jackd is not installed (apt-get install jackd2): skipping this live test";
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{message}, but CI=true requires it");
            }
            eprintln!("SKIPPED: {message}");
            return None;
        }
        let name = format!("ferrotape-test-{tag}-{}", std::process::id());
        let child = Command::new("jackd")
            .args(["-n", &name, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "256"])
            .envs(jack_env(&name))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start jackd");
        let server = JackServer { name, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let ok = Command::new("jack_lsp")
                .envs(jack_env(&server.name))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return Some(server);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("jackd {} did not come up within 10 s", server.name);
    }

    pub fn env(&self) -> Vec<(String, String)> {
        jack_env(&self.name)
    }
}

impl Drop for JackServer {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: jackd then removes its entry from the shared
        // server registry (eight entries at most) and its shared memory.
        let terminated =
            Command::new("kill").arg(self.child.id().to_string()).status().is_ok_and(|s| s.success());
        let deadline = Instant::now() + Duration::from_secs(5);
        while terminated && Instant::now() < deadline {
            if self.child.try_wait().is_ok_and(|s| s.is_some()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a client needs to reach a private server and nothing else.
pub fn jack_env(name: &str) -> Vec<(String, String)> {
    vec![
        ("JACK_NO_AUDIO_RESERVATION".into(), "1".into()),
        ("JACK_NO_START_SERVER".into(), "1".into()),
        ("JACK_DEFAULT_SERVER".into(), name.into()),
    ]
}

/// ALSA sees the system configuration, then the test's own file.
pub fn alsa_config(local: &str) -> String {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/alsa").join(local);
    format!("/usr/share/alsa/alsa.conf:{}", file.display())
}

/// A scratch directory for one test, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("ferrotape-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One clean 1-second track: no colour, no wobble, instant motor.
pub const CLEAN_PATCH: &str = r#"
version = 1
name = "live test"
seed = 1

[[track]]
length = 1.0
saturation = "off"
tone = "flat"
wow_pct = 0.0
flutter_pct = 0.0
inertia_s = 0.0
"#;

/// Record from 1.0 s to 2.5 s (the loop fills with the input), then play.
pub const RECORD_THEN_PLAY: &str = r#"
[[event]]
at = 1.0
track = 1
do = "record"

[[event]]
at = 2.5
track = 1
do = "play"
"#;

/// Run the binary to completion with a time limit; (exit code, stdout, stderr).
pub fn run(args: &[&str], env: &[(String, String)], limit: Duration) -> (Option<i32>, String, String) {
    let mut child = Command::new(binary())
        .args(args)
        .envs(env.iter().cloned())
        .env("XDG_STATE_HOME", std::env::temp_dir().join(format!("ferrotape-state-{}", std::process::id())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ferrotape");
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// A JACK test client, active: a sine (`hz`, peak `amplitude`) out of
/// `NAME:tone`, and whatever reaches `NAME:heard` recorded. Returns the
/// client (drop it, or `deactivate()`, to stop), the recording and the
/// server's sample rate.
#[cfg(feature = "jack")]
pub fn tone_client(
    name: &str,
    hz: f64,
    amplitude: f32,
) -> (jack::AsyncClient<(), impl jack::ProcessHandler>, std::sync::Arc<std::sync::Mutex<Vec<f32>>>, f64) {
    use jack::{AudioIn, AudioOut, Client, ClientOptions, Control, ProcessScope};
    let (client, _) = Client::new(name, ClientOptions::NO_START_SERVER).expect("jack client");
    let rate = client.sample_rate() as f64;
    let mut tone_out = client.register_port("tone", AudioOut::default()).expect("tone port");
    let heard_in = client.register_port("heard", AudioIn::default()).expect("heard port");
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::<f32>::with_capacity(48_000 * 20)));
    let recorder = heard.clone();
    let mut phase = 0.0f64;
    let process =
        jack::contrib::ClosureProcessHandler::new(move |_: &Client, ps: &ProcessScope| -> Control {
            for s in tone_out.as_mut_slice(ps) {
                *s = amplitude * (phase * std::f64::consts::TAU).sin() as f32;
                phase = (phase + hz / rate).fract();
            }
            // Never wait in a JACK callback: a busy recording just skips a block.
            if let Ok(mut v) = recorder.try_lock() {
                v.extend_from_slice(heard_in.as_slice(ps));
            }
            Control::Continue
        });
    (client.activate_async((), process).expect("activate"), heard, rate)
}
