//! The JACK test servers clean up after themselves: a server killed by
//! SIGKILL leaves its entry in jackd's shared-memory registry (eight at
//! most, then no server starts), and the test support clears such dead
//! entries before it starts a server; its own servers stop cleanly, even
//! when the test using them panics.

#![cfg(target_os = "linux")]

mod live_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use live_support::jack_registry::{is_dead, registered};
use live_support::{jack_env, JackServer};

fn leftover_files(name: &str) -> Vec<String> {
    std::fs::read_dir("/dev/shm")
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f.contains(&format!("_{name}_")))
        .collect()
}

fn registered_as(name: &str) -> Vec<i32> {
    registered().into_iter().filter(|s| s.name == name).map(|s| s.pid).collect()
}

#[test]
fn dead_servers_are_cleared_before_a_start_and_own_servers_stop_cleanly_even_on_panic() {
    // Probe for jackd the way the live tests do (skips without it).
    let Some(probe) = JackServer::start("probe") else { return };
    drop(probe);

    // A server killed by SIGKILL, as a test run killed mid-test leaves it.
    let stale = JackServer::name_for("stale");
    let mut child = Command::new("jackd")
        .args(["-n", &stale, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "256"])
        .envs(jack_env(&stale))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start jackd");
    let pid = child.id() as i32;
    let deadline = Instant::now() + Duration::from_secs(30);
    while registered_as(&stale).is_empty() || leftover_files(&stale).is_empty() {
        assert!(Instant::now() < deadline, "jackd {stale} never registered");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    assert!(is_dead(pid));
    assert_eq!(registered_as(&stale), vec![pid], "SIGKILL leaves the registry entry behind");
    assert!(!leftover_files(&stale).is_empty(), "and its socket and semaphores");

    // The next server the support starts clears it first.
    let server = JackServer::start("after-stale").expect("jackd starts");
    assert_eq!(registered_as(&stale), Vec::<i32>::new(), "the dead entry is cleared");
    assert_eq!(leftover_files(&stale), Vec::<String>::new(), "with its files");
    assert_eq!(registered_as(&server.name), vec![server.pid() as i32]);

    // A test that panics while it holds a server still stops it cleanly.
    let (name, pid) = std::panic::catch_unwind(|| {
        let doomed = JackServer::start("panicking").expect("jackd starts");
        let held = (doomed.name.clone(), doomed.pid() as i32);
        std::panic::panic_any(held);
    })
    .expect_err("the test panicked")
    .downcast::<(String, i32)>()
    .map(|b| *b)
    .expect("the server it held");
    assert!(is_dead(pid), "the panicking test's server was stopped");
    assert_eq!(registered_as(&name), Vec::<i32>::new(), "and left no registry entry");
    assert_eq!(leftover_files(&name), Vec::<String>::new(), "nor files");

    let name = server.name.clone();
    drop(server);
    assert_eq!(registered_as(&name), Vec::<i32>::new(), "a stopped server leaves no entry");
    assert_eq!(leftover_files(&name), Vec::<String>::new());
}
