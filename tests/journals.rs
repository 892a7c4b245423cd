//! Session journals are removed exactly when nothing needs them: a session
//! that made no take removes its own on the way out; a starting writer
//! removes the journals beside it that no take names and no running
//! ferrotape holds, and keeps the rest.

#![cfg(unix)]

mod take_support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferrotape::take::journal::{remove_unused_journals, JOURNAL_DIR, LOCK_FILE};
use ferrotape::take::{TakeHandle, TakeInfo};
use take_support::*;

/// Wait for `what`, failing only if it never happens (a broken writer),
/// never because the machine is slow.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn journals(root: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(root.join(JOURNAL_DIR))
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    found.sort();
    found
}

/// A writer that records `frames` frames, with a take over all of them
/// when `take` is set, and is left running once its start-up trim is done.
fn session(root: &Path, take: bool, frames: u64) -> TakeHandle {
    let patch = wobbly_patch();
    let (mut engine, mut feed, handle) = start(root, &patch);
    if take {
        handle.start();
    }
    perform(&mut engine, &mut feed, &score(), frames, |_| {});
    assert!(handle.flush(Duration::from_secs(60)), "the writer flushes");
    wait_for("the trim at start", || handle.status().old_journals_removed.is_some());
    handle
}

/// A child process, killed if the test fails before it ends it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.try_wait().is_ok_and(|s| s.is_none()) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn finish(handle: &TakeHandle) -> ferrotape::take::TakeStatus {
    assert!(handle.finish(Duration::from_secs(60)), "the writer finishes");
    let status = handle.status();
    assert_eq!(status.last_error, None);
    status
}

/// `ferrotape play` on the null backend with always-on takes armed (so the
/// writer and its journal run, but no take is made), into `root`.
fn ferrotape_playing(scratch: &Path, root: &Path) -> (Running, PathBuf) {
    let patch = scratch.join("play.toml");
    std::fs::write(&patch, "version = 1\nname = \"elsewhere\"\n\n[[track]]\nlength = 1.0\n").unwrap();
    let before = journals(root);
    let child = Command::new(env!("CARGO_BIN_EXE_ferrotape"))
        .args(["play", patch.to_str().unwrap(), "--no-tui", "--audio", "null", "--always-on-take"])
        .args(["--duration", "600", "--quiet", "--takes", root.to_str().unwrap()])
        .env("XDG_STATE_HOME", scratch)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run ferrotape");
    let child = Running(child);
    let mut journal = None;
    // The lock file says who holds it once the lock is taken.
    wait_for("the other process's journal", || {
        journal = journals(root)
            .into_iter()
            .find(|j| !before.contains(j) && std::fs::metadata(j.join(LOCK_FILE)).is_ok_and(|m| m.len() > 0));
        journal.is_some()
    });
    (child, journal.unwrap())
}

#[test]
fn a_session_without_a_take_removes_its_journal_and_one_with_a_take_keeps_it() {
    let root = scratch("journal-own");
    let idle = session(&root, false, 50_000);
    let idle_journal = idle.status().journal.expect("a journal while it runs");
    assert!(idle_journal.join("input.wav").is_file());
    let status = finish(&idle);
    assert_eq!(status.journal, None, "reported gone");
    assert!(!idle_journal.exists(), "nothing names it: removed");

    let taken = session(&root, true, 50_000);
    let status = finish(&taken);
    let journal = status.journal.expect("kept");
    let take = status.folder.expect("a take");
    assert_eq!(
        TakeInfo::load(&take).unwrap().journal.map(|j| take.join(j).canonicalize().unwrap()),
        Some(journal.canonicalize().unwrap())
    );
    assert_eq!(journals(&root), vec![journal.clone()]);
    // And a later writer keeps it too: the take still needs it.
    let later = session(&root, false, 1_000);
    wait_for("the trim at start", || later.status().old_journals_removed.is_some());
    assert_eq!(later.status().old_journals_removed, Some(0));
    finish(&later);
    assert_eq!(journals(&root), vec![journal]);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_starting_writer_removes_only_journals_no_take_names_and_nobody_holds() {
    let root = scratch("journal-trim");
    let elsewhere = scratch("journal-trim-play");
    // Two other ferrotape processes playing into the same takes folder.
    let (mut other, other_journal) = ferrotape_playing(&elsewhere, &root);
    let (mut killed, killed_journal) = ferrotape_playing(&elsewhere, &root);
    // Takes made here: one whose folder will be deleted, one that stays, one
    // whose take.toml will no longer parse but still names its journal.
    let orphaned = finish(&session(&root, true, 20_000));
    let kept = finish(&session(&root, true, 20_000));
    let damaged = finish(&session(&root, true, 20_000));
    // A writer of this process still running, with no take yet.
    let running = session(&root, false, 20_000);
    let running_journal = running.status().journal.unwrap();
    assert_eq!(journals(&root).len(), 6, "no writer so far removed anything");

    // Now: the take deleted, the description damaged, a journal an older
    // ferrotape left without a lock file, and a process killed by SIGKILL.
    std::fs::remove_dir_all(orphaned.folder.unwrap()).unwrap();
    let orphan = orphaned.journal.unwrap();
    let damaged_take = damaged.folder.unwrap().join("take.toml");
    let text = std::fs::read_to_string(&damaged_take).unwrap();
    std::fs::write(&damaged_take, format!("{text}\n[[[ not toml")).unwrap();
    let unlocked = root.join(JOURNAL_DIR).join("2020-01-01_0000-00_old");
    std::fs::create_dir_all(&unlocked).unwrap();
    std::fs::write(unlocked.join("events.toml"), "").unwrap();
    killed.0.kill().unwrap();
    killed.0.wait().unwrap();
    assert!(killed_journal.is_dir(), "SIGKILL leaves the journal behind");

    let newcomer = session(&root, false, 1_000);
    let status = newcomer.status();
    assert_eq!(status.last_error, None);
    assert_eq!(status.old_journals_removed, Some(2), "the orphan and the killed process's journal");
    assert!(!orphan.exists(), "no take names it");
    assert!(!killed_journal.exists(), "its process is gone and no take names it");
    for (what, journal) in [
        ("named by a take", kept.journal.as_ref().unwrap()),
        ("named by an unreadable take.toml", damaged.journal.as_ref().unwrap()),
        ("held by a running writer", &running_journal),
        ("held by another ferrotape", &other_journal),
        ("without a lock file", &unlocked),
        ("the newcomer's own", status.journal.as_ref().unwrap()),
    ] {
        assert!(journal.join("events.toml").is_file(), "{what}: {} was removed", journal.display());
    }

    // SIGTERM: the other ferrotape stops cleanly and, with no take made,
    // removes its own journal on the way out.
    let _ = Command::new("kill").args(["-TERM", &other.0.id().to_string()]).status();
    other.0.wait().unwrap();
    assert!(!other_journal.exists(), "the other process removed its journal when it ended");
    finish(&running);
    assert!(!running_journal.exists());
    finish(&newcomer);
    // What is left: the journals some take needs, and the unlocked one.
    let mut left = vec![kept.journal.unwrap(), damaged.journal.unwrap(), unlocked];
    left.sort();
    assert_eq!(journals(&root), left);
    assert_eq!(remove_unused_journals(&root, None).unwrap(), Vec::<PathBuf>::new(), "nothing more to remove");
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&elsewhere);
}
