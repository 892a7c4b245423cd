//! Shared by the live tests: a private JACK server on its dummy driver,
//! the binary, and a clean one-track patch with an events file.
#![allow(dead_code)]

#[cfg(feature = "jack")]
pub mod clock;
pub mod jack_registry;
#[cfg(feature = "jack")]
pub mod midi_device;
#[cfg(feature = "jack")]
pub mod test_client;
pub mod tmux;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ferrotape"))
}

/// A JACK server (dummy driver, 48 kHz, 256 frames) with a unique name,
/// stopped with SIGTERM and reaped on drop, also when the test panics.
/// Before it starts, registry entries of servers that died without
/// unregistering (earlier runs killed mid-test) are cleared, so they never
/// add up to jackd's limit of eight.
pub struct JackServer {
    pub name: String,
    child: Child,
    /// jackd's own output, kept when it fails.
    log: PathBuf,
}

/// How long a server may take to come up, and to stop on SIGTERM, before
/// the test gives up on it (never a measure of the test itself).
const JACKD_PATIENCE: Duration = Duration::from_secs(30);

impl JackServer {
    /// The server name `start(tag)` uses in this process.
    pub fn name_for(tag: &str) -> String {
        format!("ferrotape-test-{tag}-{}", std::process::id())
    }

    /// Start one, or `None` (with a printed reason) when jackd is not
    /// installed. Under CI (`CI=true`) a missing jackd fails the test.
    pub fn start(tag: &str) -> Option<JackServer> {
        JackServer::start_with_period(tag, 256)
    }

    /// The same with `period` frames per JACK cycle.
    pub fn start_with_period(tag: &str, period: u32) -> Option<JackServer> {
        JackServer::start_with(tag, period, false)
    }

    /// With `synchronous`, the server waits for every client to finish its
    /// cycle before starting the next (`jackd --sync`): on a machine without
    /// real-time scheduling, a busy moment then slows the cycle down instead
    /// of making a client miss it, which is what real-time priority gives a
    /// real rig.
    pub fn start_with(tag: &str, period: u32, synchronous: bool) -> Option<JackServer> {
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
        let name = Self::name_for(tag);
        let log = std::env::temp_dir().join(format!("{name}.jackd.log"));
        // Other test runs on the machine may hold every slot for a while.
        let give_up = Instant::now() + 2 * JACKD_PATIENCE;
        loop {
            jack_registry::remove_dead_servers();
            let output = std::fs::File::create(&log).expect("jackd log");
            let child = Command::new("jackd")
                .args(["-n", &name, "--no-realtime"])
                .args(synchronous.then_some("--sync"))
                .args(["-d", "dummy", "-r", "48000", "-p", &period.to_string()])
                .envs(jack_env(&name))
                .stdin(Stdio::null())
                .stdout(output.try_clone().expect("jackd log"))
                .stderr(output)
                .spawn()
                .expect("start jackd");
            let mut server = JackServer { name: name.clone(), child, log: log.clone() };
            if server.wait_until_up() {
                return Some(server);
            }
            let said = std::fs::read_to_string(&log).unwrap_or_default();
            let full = said.contains("Too many servers already active");
            assert!(full && Instant::now() < give_up, "jackd {name} did not come up: {said}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Poll until the server answers; false if jackd exited first.
    fn wait_until_up(&mut self) -> bool {
        let deadline = Instant::now() + JACKD_PATIENCE;
        while Instant::now() < deadline {
            let up = jack_lsp()
                .envs(jack_env(&self.name))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if up {
                return true;
            }
            if self.child.try_wait().is_ok_and(|s| s.is_some()) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("jackd {} did not come up within {JACKD_PATIENCE:?}", self.name);
    }

    pub fn env(&self) -> Vec<(String, String)> {
        jack_env(&self.name)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for JackServer {
    fn drop(&mut self) {
        if self.child.try_wait().is_ok_and(|s| s.is_some()) {
            // It already exited (it never came up): whatever it left is dead.
            jack_registry::remove_dead_servers();
            return;
        }
        // SIGTERM, not SIGKILL: jackd then removes its registry entry, its
        // socket and its shared memory itself.
        // SAFETY: kill(2) on our own child's pid has no memory effects.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + JACKD_PATIENCE;
        while Instant::now() < deadline {
            if self.child.try_wait().is_ok_and(|s| s.is_some()) {
                let _ = std::fs::remove_file(&self.log);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Stuck: kill it, then clear what it could not.
        let _ = self.child.kill();
        let _ = self.child.wait();
        jack_registry::remove_dead_servers();
    }
}

#[cfg(feature = "jack")]
pub mod rig;

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
/// client (drop it to stop), the recording and the server's sample rate.
#[cfg(feature = "jack")]
pub fn tone_client(
    name: &str,
    hz: f64,
    amplitude: f32,
) -> (
    test_client::TestClient<impl jack::ProcessHandler + ferrotape::io::jack_native::stopping::LastCycle>,
    std::sync::Arc<std::sync::Mutex<Vec<f32>>>,
    f64,
) {
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
    (test_client::TestClient::activate(client, process), heard, rate)
}

/// `jack_lsp`, killed if it takes more than 5 s: libjack's client can
/// deadlock on its own while a busy server is starting or closing clients,
/// and a test must then try again rather than wait for ever on its output.
pub fn jack_lsp() -> Command {
    let mut command = Command::new("timeout");
    command.args(["-k", "1", "5", "jack_lsp"]);
    command
}
