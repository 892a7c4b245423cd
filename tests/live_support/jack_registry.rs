//! jackd2's registry of running servers, and removing the entries of
//! servers that died without unregistering.
//!
//! jackd2 (1.9.21, POSIX shared memory) keeps the registry in
//! `/dev/shm/jack-shm-registry`: a header, then room for eight servers, each
//! a slot of (pid, `jack-UID:NAME:`). A server stopped by SIGTERM clears its
//! slot; one killed by SIGKILL (or a crash) keeps it. A new server reclaims a
//! dead slot only when it has the same name, so dead slots of differently
//! named servers pile up until jackd refuses to start ("Too many servers
//! already active"). Updates are serialised by the System V semaphore with
//! key 0x282929, taken with SEM_UNDO so a dying holder releases it.
//!
//! A dead server also leaves its socket (`/dev/shm/jack_NAME_UID_0`) and
//! semaphores (`/dev/shm/jack_sem.UID_NAME_*`); the segments it allocated are
//! freed by the next jackd that starts.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

const REGISTRY: &str = "/dev/shm/jack-shm-registry";
const SEMAPHORE_KEY: libc::key_t = 0x0028_2929;
/// "JACK", as the header's first field.
const MAGIC: u32 = 0x4a41_434b;
/// The header before the slots: magic, protocol, type, size, header
/// length and entry length (bytes).
const HEADER: u64 = 24;
const SLOTS: u64 = 8;
/// pid (4 bytes) and a 257-byte name, padded to 4 bytes.
const SLOT: u64 = 264;
const NAME: usize = 257;

/// One registered server.
#[derive(Clone, Debug, PartialEq)]
pub struct Registered {
    pub pid: i32,
    /// The server's name as given to `jackd -n`.
    pub name: String,
    pub uid: u32,
}

/// The servers in the registry now (empty if there is none).
pub fn registered() -> Vec<Registered> {
    let Ok(file) = File::open(REGISTRY) else { return Vec::new() };
    if !valid(&file) {
        return Vec::new();
    }
    (0..SLOTS as usize).filter_map(|i| read_slot(&file, i)).collect()
}

/// Whether a registered server's process is gone: it no longer exists, or
/// its pid now belongs to something that is not a JACK server.
pub fn is_dead(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    if unsafe { libc::kill(pid, 0) } != 0
        && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
    {
        return true;
    }
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| !comm.starts_with("jack"))
}

/// Clear the slots of servers whose process is gone, and remove the socket
/// and semaphore files of those that were test servers
/// (`ferrotape-test-…`). Returns the names cleared.
pub fn remove_dead_servers() -> Vec<String> {
    let Ok(file) = OpenOptions::new().read(true).write(true).open(REGISTRY) else { return Vec::new() };
    let Some(_lock) = RegistryLock::take() else { return Vec::new() };
    if !valid(&file) {
        return Vec::new();
    }
    let mut cleared = Vec::new();
    for slot in 0..SLOTS as usize {
        let Some(server) = read_slot(&file, slot) else { continue };
        if !is_dead(server.pid) {
            continue;
        }
        if file.write_all_at(&[0u8; SLOT as usize], HEADER + slot as u64 * SLOT).is_ok() {
            if server.name.starts_with("ferrotape-test-") {
                remove_leftover_files(&server);
            }
            cleared.push(server.name);
        }
    }
    cleared
}

/// The socket and semaphores a killed server left in /dev/shm.
fn remove_leftover_files(server: &Registered) {
    let socket = format!("jack_{}_{}_", server.name, server.uid);
    let semaphore = format!("jack_sem.{}_{}_", server.uid, server.name);
    let Ok(entries) = std::fs::read_dir("/dev/shm") else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // Test server names contain no `_`, so nothing of another server matches.
        let rest = name.strip_prefix(&socket).or_else(|| name.strip_prefix(&semaphore));
        if rest.is_some_and(|r| !r.is_empty()) {
            let _ = std::fs::remove_file(Path::new("/dev/shm").join(&name));
        }
    }
}

fn valid(file: &File) -> bool {
    let mut header = [0u8; HEADER as usize];
    if file.read_exact_at(&mut header, 0).is_err() {
        return false;
    }
    let field = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().unwrap());
    field(0) == MAGIC && u64::from(field(16)) == HEADER + SLOTS * SLOT
}

fn read_slot(file: &File, slot: usize) -> Option<Registered> {
    let mut bytes = [0u8; SLOT as usize];
    file.read_exact_at(&mut bytes, HEADER + slot as u64 * SLOT).ok()?;
    let pid = i32::from_le_bytes(bytes[..4].try_into().unwrap());
    if pid == 0 {
        return None;
    }
    let raw = &bytes[4..4 + NAME];
    let text = String::from_utf8_lossy(&raw[..raw.iter().position(|&b| b == 0).unwrap_or(NAME)]).into_owned();
    // `jack-UID:NAME:`
    let (uid, name) = text.strip_prefix("jack-")?.split_once(':')?;
    Some(Registered { pid, name: name.strip_suffix(':').unwrap_or(name).to_string(), uid: uid.parse().ok()? })
}

/// The registry's semaphore, held until dropped.
struct RegistryLock {
    id: libc::c_int,
}

impl RegistryLock {
    /// `None` when there is no semaphore (no jackd has run) or it stays
    /// taken for ten seconds.
    fn take() -> Option<RegistryLock> {
        // SAFETY: System V calls with plain values; nothing is borrowed.
        let id = unsafe { libc::semget(SEMAPHORE_KEY, 0, 0) };
        if id < 0 {
            return None;
        }
        let flags = (libc::SEM_UNDO | libc::IPC_NOWAIT) as libc::c_short;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let mut down = libc::sembuf { sem_num: 0, sem_op: -1, sem_flg: flags };
            // SAFETY: as above; `down` lives across the call.
            if unsafe { libc::semop(id, &mut down, 1) } == 0 {
                return Some(RegistryLock { id });
            }
            let busy = std::io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN);
            if !busy || std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

impl Drop for RegistryLock {
    fn drop(&mut self) {
        let mut up = libc::sembuf { sem_num: 0, sem_op: 1, sem_flg: libc::SEM_UNDO as libc::c_short };
        // SAFETY: as in `take`; this undoes our own decrement.
        unsafe {
            libc::semop(self.id, &mut up, 1);
        }
    }
}
