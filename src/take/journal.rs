//! Session journals on disk: creating them, knowing which are in use, and
//! removing those no take needs.
//!
//! A journal holds everything since its engine started (about 0.7 GB an
//! hour of mono float input at 48 kHz), and a take re-renders by replaying
//! its journal from frame 0, so a journal is needed exactly as long as a
//! take folder names it. Journals are removed:
//!
//! - when their session ends without a take made from them, and
//! - when a writer starts: every other journal in the same `.journal/` that
//!   no take folder beside it names and no running ferrotape holds.
//!
//! "Holds" is an advisory lock (`flock`) on the journal's `lock` file, taken
//! when the journal is created and kept until the process ends; the kernel
//! drops it when the process dies, even by `kill -9`. `.journal/.lock`
//! serialises creating a journal with trimming, so a journal is never seen
//! between being made and being locked. Folders without a `lock` file
//! (written before journals were locked) are never removed automatically.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Deserialize;

use super::folder::{safe_name, save_start_state, seconds_of_minute, timestamp, unique_dir, TAKE_FILE};
use super::TakeConfig;

/// The folder of journals inside a takes root.
pub const JOURNAL_DIR: &str = ".journal";
/// In each journal: locked by the process writing it for as long as it runs.
pub const LOCK_FILE: &str = "lock";
/// In the journals folder: held while a journal is created or journals are removed.
const ROOT_LOCK: &str = ".lock";

/// A journal's lock, held for as long as this value lives.
pub(crate) struct JournalLock {
    _file: File,
}

/// Create a journal folder under `config.root`, locked, with the patch and
/// the starting tapes.
pub(crate) fn create_journal(config: &TakeConfig) -> Result<(PathBuf, JournalLock), String> {
    let parent = config.root.join(JOURNAL_DIR);
    std::fs::create_dir_all(&parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let (dir, lock) = {
        let _root = RootLock::take(&parent)?;
        let now = SystemTime::now();
        let stamp = format!("{}-{}", timestamp(now), seconds_of_minute(now));
        let dir = unique_dir(&parent, &format!("{stamp}_{}", safe_name(&config.patch.name)))?;
        let lock = lock_new_journal(&dir)?;
        (dir, lock)
    };
    save_start_state(&dir, config)?;
    Ok((dir, lock))
}

fn lock_new_journal(dir: &Path) -> Result<JournalLock, String> {
    let path = dir.join(LOCK_FILE);
    let fail = |e: std::io::Error| format!("cannot lock {}: {e}", path.display());
    let mut file = OpenOptions::new().create(true).truncate(true).write(true).open(&path).map_err(fail)?;
    // A fresh file under the root lock: nobody else can hold it.
    lock(&file).map_err(fail)?;
    // For a person looking at the folder; the lock itself is what counts.
    let _ = writeln!(file, "written by ferrotape, process {}", std::process::id());
    Ok(JournalLock { _file: file })
}

/// Remove a journal this process holds (its session ended without a take).
pub(crate) fn remove_own(dir: &Path, lock: JournalLock) -> Result<(), String> {
    let result = std::fs::remove_dir_all(dir).map_err(|e| format!("cannot remove {}: {e}", dir.display()));
    drop(lock);
    result
}

/// Remove every journal in `root/.journal` that no take folder in `root`
/// names and no running process holds, except `keep`. Returns the folders
/// removed. When in doubt (a take description that cannot be read), nothing
/// is removed.
pub fn remove_unused_journals(root: &Path, keep: Option<&Path>) -> Result<Vec<PathBuf>, String> {
    let parent = root.join(JOURNAL_DIR);
    if !parent.is_dir() {
        return Ok(Vec::new());
    }
    let root_lock = RootLock::take(&parent)?;
    let keep = keep.and_then(|k| k.canonicalize().ok());
    let candidates: Vec<PathBuf> = list_dir(&parent)?
        .into_iter()
        .filter(|p| p.is_dir() && !hidden(p) && p.join(LOCK_FILE).is_file())
        .filter(|p| keep.is_none() || p.canonicalize().ok() != keep)
        .collect();
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let named = journals_named_by_takes(root, &candidates)?;
    let mut unused = Vec::new();
    for journal in candidates {
        if journal.canonicalize().is_ok_and(|c| named.contains(&c)) {
            continue;
        }
        let path = journal.join(LOCK_FILE);
        let Ok(file) = OpenOptions::new().write(true).open(&path) else { continue };
        // Held: a running ferrotape writes this journal.
        if !try_lock(&file).map_err(|e| format!("cannot lock {}: {e}", path.display()))? {
            continue;
        }
        unused.push((journal, file));
    }
    // Deleting gigabytes takes a while: let journals be created meanwhile.
    // Holding their locks, nobody else uses or removes the unused ones.
    drop(root_lock);
    let mut removed = Vec::new();
    for (journal, lock) in unused {
        std::fs::remove_dir_all(&journal).map_err(|e| format!("cannot remove {}: {e}", journal.display()))?;
        drop(lock);
        removed.push(journal);
    }
    Ok(removed)
}

/// The journals (canonical paths) that some take folder in `root` names.
/// A `take.toml` that does not parse names every candidate whose folder
/// name appears in its text; one that cannot be read stops the search.
fn journals_named_by_takes(root: &Path, candidates: &[PathBuf]) -> Result<HashSet<PathBuf>, String> {
    #[derive(Deserialize)]
    struct JournalField {
        journal: Option<String>,
    }
    let mut named = HashSet::new();
    for take in list_dir(root)?.into_iter().filter(|p| p.is_dir() && !hidden(p)) {
        let path = take.join(TAKE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("cannot read {} (no journal removed): {e}", path.display())),
        };
        match toml::from_str::<JournalField>(&text) {
            Ok(JournalField { journal: Some(journal) }) => {
                if let Ok(found) = take.join(journal).canonicalize() {
                    named.insert(found);
                }
            }
            Ok(JournalField { journal: None }) => {}
            Err(_) => {
                for candidate in candidates {
                    let name = candidate.file_name().map(|n| n.to_string_lossy().into_owned());
                    if name.is_some_and(|n| names(&text, &n)) {
                        named.extend(candidate.canonicalize().ok());
                    }
                }
            }
        }
    }
    Ok(named)
}

/// Whether `text` contains `name` as a whole folder name: not as part of a
/// longer one (`…_live` inside `…_live-2`).
fn names(text: &str, name: &str) -> bool {
    let part_of_name = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        !before.is_some_and(part_of_name) && !after.is_some_and(part_of_name)
    })
}

fn list_dir(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    Ok(entries.flatten().map(|e| e.path()).collect())
}

fn hidden(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// `.journal/.lock`, held (blocking) while journals are created or removed.
struct RootLock {
    _file: File,
}

impl RootLock {
    fn take(parent: &Path) -> Result<RootLock, String> {
        let path = parent.join(ROOT_LOCK);
        let fail = |e: std::io::Error| format!("cannot lock {}: {e}", path.display());
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(fail)?;
        lock(&file).map_err(fail)?;
        Ok(RootLock { _file: file })
    }
}

/// Take an exclusive lock on `file` if nobody holds one. The lock belongs
/// to this open file and ends when it is closed or the process ends.
#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    loop {
        // SAFETY: flock on a descriptor we own; no memory is touched.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EWOULDBLOCK) => return Ok(false),
            Some(libc::EINTR) => continue,
            _ => return Err(e),
        }
    }
}

/// Wait for an exclusive lock on `file`.
#[cfg(unix)]
fn lock(file: &File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    loop {
        // SAFETY: as in `try_lock`.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// Without `flock`, no other journal can be known to be unused: report
/// every lock as held, so that only a session's own journal is removed.
#[cfg(not(unix))]
fn try_lock(_file: &File) -> std::io::Result<bool> {
    Ok(false)
}

#[cfg(not(unix))]
fn lock(_file: &File) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_counts_only_as_a_whole_folder_name() {
        let text = "journal = \"../.journal/2025-05-01_2130-07_live-2\"\n";
        assert!(names(text, "2025-05-01_2130-07_live-2"));
        assert!(!names(text, "2025-05-01_2130-07_live"));
        assert!(!names(text, "2130-07_live-2"));
    }
}
