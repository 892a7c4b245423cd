//! Saving a file so that a crash or full disk never leaves it half written.
//!
//! The new contents go to a temporary file in the same directory (so the
//! final rename stays on one filesystem and is atomic), are flushed to disk,
//! and only then replace the target. Until the rename, the previous good file
//! is untouched; after it, the new one is complete.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Replace `path` with `bytes` atomically. On error the target is unchanged
/// and the temporary file has been removed.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path does not name a file"))?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let (temp_path, mut temp) = create_temp_beside(&dir, &file_name.to_string_lossy())?;
    let result = temp.write_all(bytes).and_then(|()| temp.sync_all()).and_then(|()| {
        drop(temp);
        fs::rename(&temp_path, path)
    });
    if let Err(err) = result {
        // Best effort: the write already failed, and a leftover temp file is
        // only clutter, never a lost patch.
        let _ = fs::remove_file(&temp_path);
        return Err(err);
    }
    sync_dir(&dir);
    Ok(())
}

/// Create a fresh hidden temporary file next to the target. `create_new`
/// refuses to reuse a name, so two saves racing in one directory cannot
/// write into the same temporary file.
fn create_temp_beside(dir: &Path, file_name: &str) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let pid = std::process::id();
    let mut last_err = None;
    for _ in 0..16 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp_path = dir.join(format!(".{file_name}.{pid}.{n}.tmp"));
        match OpenOptions::new().write(true).create_new(true).open(&temp_path) {
            Ok(file) => return Ok((temp_path, file)),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => last_err = Some(err),
            Err(err) => return Err(err),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("could not create a temporary file")))
}

/// Make the rename itself durable. Directories cannot be opened for syncing
/// on every platform, so failure here is not an error: the data is already
/// safe in the file, only the name change might be lost on power failure.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ferrotape-atomic-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create scratch dir");
        dir
    }

    #[test]
    fn replaces_contents_and_leaves_no_temp_file() {
        let dir = scratch_dir("replace");
        let target = dir.join("a.toml");
        write_atomically(&target, b"one").expect("first write");
        write_atomically(&target, b"two").expect("second write");
        assert_eq!(fs::read(&target).expect("read back"), b"two");
        let names: Vec<_> =
            fs::read_dir(&dir).expect("list").map(|e| e.expect("entry").file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.toml")]);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn failed_save_keeps_the_old_file() {
        let dir = scratch_dir("keep");
        let target = dir.join("a.toml");
        write_atomically(&target, b"good").expect("write");
        // Renaming a file over a non-empty directory fails, which stands in
        // for a save that dies after the temporary file was written.
        let blocked = dir.join("blocked");
        fs::create_dir_all(blocked.join("inside")).expect("make dir");
        assert!(write_atomically(&blocked, b"new").is_err());
        assert_eq!(fs::read(&target).expect("read back"), b"good");
        let leftovers = fs::read_dir(&dir)
            .expect("list")
            .filter(|e| {
                e.as_ref().map(|e| e.file_name().to_string_lossy().ends_with(".tmp")).unwrap_or(false)
            })
            .count();
        assert_eq!(leftovers, 0);
        let _ = fs::remove_dir_all(&dir);
    }
}
