//! `Reader`: the segment of a tokenwell-agent, read without a system call.
//!
//!     let reader = tokenwell::Reader::open_default()?;
//!     let cred = reader.read("redis")?;           // username, token, expiry, generation
//!     let newer = reader.wait("redis", cred.generation(), Some(Duration::from_secs(60)))?;
//!
//! Thread-safe: one `Reader` may be shared by any number of threads.

use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::segment::{
    COPY_HAS_VALUE, FLAG_REPLACED, Fields, KIND_CREDENTIAL, KIND_FREE, KIND_KEYSET, Mapping, NAME_MAX,
    Snapshot, wipe,
};

/// The runtime directory when none is given: `$TOKENWELL_DIR`, else `/run/tokenwell`.
pub fn default_dir() -> PathBuf {
    match std::env::var_os("TOKENWELL_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from("/run/tokenwell"),
    }
}

/// Replacements one reader follows. The agent replaces its file only to grow
/// it (each time doubling), so more means something else is renaming files;
/// the reader then keeps reading the mapping it has (as libtokenwell does).
const MAX_REMAPS: u32 = 32;

/// A token (or a private key): shown by [`Secret::expose`] only, redacted in
/// `Debug`, zeroed when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        wipe(&mut bytes);
    }
}

/// A credential's value as the agent published it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    username: String,
    token: Secret,
    expires_at: i64,
    generation: u64,
}

impl Credential {
    #[cfg(test)]
    pub(crate) fn new(username: String, token: String, expires_at: i64, generation: u64) -> Self {
        Credential {
            username,
            token: Secret(token),
            expires_at,
            generation,
        }
    }

    /// The username (an Entra object id); empty for password-only AUTH.
    pub fn username(&self) -> &str {
        &self.username
    }
    /// The token (the Redis password).
    pub fn token(&self) -> &str {
        self.token.expose()
    }
    /// Unix seconds when the token expires; 0 when it does not.
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }
    /// Increases every time the agent publishes a new value.
    pub fn generation(&self) -> u64 {
        self.generation
    }
    /// Whether the value is still valid at unix second `now`.
    pub fn valid_at(&self, now: i64) -> bool {
        self.expires_at == 0 || self.expires_at > now
    }
}

/// A keyset's value: its public JWKS and its private signing key (empty for a
/// verify-only keyset), read in one snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyset {
    /// The public JWKS (RFC 7517), `{"keys":[...]}`.
    pub jwks: String,
    /// The active signing key as one private JWK; empty for verify-only.
    pub private_key: Secret,
    /// Unix seconds; 0 when the keyset does not expire as a whole.
    pub expires_at: i64,
    pub generation: u64,
}

/// The kind of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Credential,
    Keyset,
}

/// An entry without its secret (`tokenwell_stat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub kind: Kind,
    pub expires_at: i64,
    pub generation: u64,
}

/// Who writes the segment: the agent's pid and its last heartbeat (unix ms).
/// Diagnostics only; values stay valid after the agent stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgentInfo {
    pub pid: i32,
    pub heartbeat_ms: i64,
}

/// Mappings replaced by newer files, kept until the reader is dropped: a
/// thread may still be reading one.
struct RemapState {
    retired: Vec<*mut Mapping>,
    remaps: u32,
}

unsafe impl Send for RemapState {}

/// A handle on the segment of one runtime directory.
pub struct Reader {
    /// `DIR/segment`; None for an image from [`Reader::from_bytes`].
    path: Option<PathBuf>,
    /// The mapping to read; never freed before `drop`.
    current: AtomicPtr<Mapping>,
    remap: Mutex<RemapState>,
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader").field("path", &self.path).finish()
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn check_name(name: &str) -> Result<&[u8]> {
    let b = name.as_bytes();
    if b.is_empty() || b.len() > NAME_MAX || b.contains(&0) {
        return Err(Error::EInval);
    }
    Ok(b)
}

fn utf8(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let mut b = e.into_bytes();
        wipe(&mut b);
        Error::EFormat
    })
}

/// The value's status now: `ENOVALUE` (with expiry and generation) when not
/// fetched yet or expired.
fn value_status(snap: &Snapshot) -> Result<()> {
    let h = &snap.hdr;
    if h.flags & COPY_HAS_VALUE == 0 || (h.expires_at != 0 && h.expires_at <= unix_now()) {
        return Err(Error::ENoValue {
            expires_at: h.expires_at,
            generation: h.generation,
        });
    }
    Ok(())
}

impl Reader {
    /// Opens the segment of runtime directory `dir` (empty: [`default_dir`]).
    /// `EUNAVAILABLE` at once when there is no segment.
    pub fn open(dir: impl AsRef<Path>) -> Result<Reader> {
        let dir = dir.as_ref();
        let dir = if dir.as_os_str().is_empty() {
            default_dir()
        } else {
            dir.to_path_buf()
        };
        let path = dir.join("segment");
        let m = Mapping::map_file(&path)?;
        Ok(Reader::with_mapping(Some(path), m))
    }

    /// Opens the segment of `$TOKENWELL_DIR`, else `/run/tokenwell`.
    pub fn open_default() -> Result<Reader> {
        Reader::open(default_dir())
    }

    /// Reads a segment image from memory (a copy is taken): for tests,
    /// fuzzing and post-mortems. Such a reader never remaps.
    pub fn from_bytes(image: &[u8]) -> Result<Reader> {
        Ok(Reader::with_mapping(None, Mapping::from_bytes(image)?))
    }

    fn with_mapping(path: Option<PathBuf>, m: Mapping) -> Reader {
        Reader {
            path,
            current: AtomicPtr::new(Box::into_raw(Box::new(m))),
            remap: Mutex::new(RemapState {
                retired: Vec::new(),
                remaps: 0,
            }),
        }
    }

    /// The segment file this reader follows (None for an in-memory image).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn load_current(&self) -> &Mapping {
        // Mappings are freed only in drop, so the reference outlives any use.
        unsafe { &*self.current.load(Ordering::Acquire) }
    }

    /// The mapping to read, remapping first when the agent renamed a new file
    /// over ours (docs: "REPLACED"). A flagged file that `segment` still names
    /// (a writer died mid-growth) is read as it is.
    fn current_mapping(&self) -> &Mapping {
        let m = self.load_current();
        let Some(path) = &self.path else { return m };
        if m.flags() & FLAG_REPLACED == 0 {
            return m;
        }
        let mut st = self.remap.lock().unwrap_or_else(|e| e.into_inner());
        let again = self.current.load(Ordering::Acquire);
        if ptr::eq(again, m) && st.remaps < MAX_REMAPS && names_other_file(path, m) {
            // On failure keep reading the old mapping: its values stay valid.
            if let Ok(fresh) = Mapping::map_file(path) {
                st.remaps += 1;
                st.retired.push(again);
                self.current
                    .store(Box::into_raw(Box::new(fresh)), Ordering::Release);
            }
        }
        self.load_current()
    }

    /// Whether `segment` now names a file other than the mapped one, or none
    /// (e.g. the runtime directory was emptied and a new agent started).
    #[cfg(feature = "redis")]
    pub(crate) fn segment_moved(&self) -> bool {
        match &self.path {
            Some(path) => names_other_file(path, self.load_current()) || !path.exists(),
            None => false,
        }
    }

    /// Finds and reads `name`; a miss looks again once the file is flagged
    /// replaced (the publish that grew the file may have added this name).
    fn read_entry(&self, name: &str, fields: Fields) -> Result<Snapshot> {
        let name = check_name(name)?;
        let mut snap = Snapshot::default();
        let m = self.current_mapping();
        match m.find_and_read(name, fields, &mut snap) {
            Err(Error::ENotFound) => {
                let now = self.current_mapping();
                if ptr::eq(now, m) {
                    return Err(Error::ENotFound);
                }
                now.find_and_read(name, fields, &mut snap)?;
            }
            r => {
                r?;
            }
        }
        Ok(snap)
    }

    /// The current value of credential `name`. `ENOTFOUND` for an unknown
    /// name or a keyset; `ENOVALUE` (with expiry and generation) when it is
    /// not fetched yet or expired; `EFORMAT` for a malformed entry.
    pub fn read(&self, name: &str) -> Result<Credential> {
        let fields = Fields {
            username: true,
            secret: true,
            public: false,
        };
        let mut snap = self.read_entry(name, fields)?;
        if snap.hdr.kind != KIND_CREDENTIAL {
            return Err(Error::ENotFound);
        }
        value_status(&snap)?;
        let token = Secret(utf8(std::mem::take(&mut snap.secret.0))?);
        Ok(Credential {
            username: utf8(std::mem::take(&mut snap.username))?,
            token,
            expires_at: snap.hdr.expires_at,
            generation: snap.hdr.generation,
        })
    }

    /// Keyset `name`: its public JWKS and private signing key in one
    /// snapshot. `ENOTFOUND` when `name` is a credential.
    pub fn read_keyset(&self, name: &str) -> Result<Keyset> {
        let fields = Fields {
            username: false,
            secret: true,
            public: true,
        };
        let mut snap = self.read_entry(name, fields)?;
        if snap.hdr.kind != KIND_KEYSET {
            return Err(Error::ENotFound);
        }
        value_status(&snap)?;
        let private_key = Secret(utf8(std::mem::take(&mut snap.secret.0))?);
        Ok(Keyset {
            jwks: utf8(std::mem::take(&mut snap.public))?,
            private_key,
            expires_at: snap.hdr.expires_at,
            generation: snap.hdr.generation,
        })
    }

    /// The public part of entry `name` (a keyset's JWKS) and its generation.
    pub fn read_public(&self, name: &str) -> Result<(String, u64)> {
        let fields = Fields {
            username: false,
            secret: false,
            public: true,
        };
        let mut snap = self.read_entry(name, fields)?;
        value_status(&snap)?;
        Ok((utf8(std::mem::take(&mut snap.public))?, snap.hdr.generation))
    }

    /// Entry `name` without its secret. `Ok` only when it holds a valid value.
    pub fn stat(&self, name: &str) -> Result<Stat> {
        let snap = self.read_entry(name, Fields::NONE)?;
        value_status(&snap)?;
        let kind = if snap.hdr.kind == KIND_KEYSET {
            Kind::Keyset
        } else {
            Kind::Credential
        };
        Ok(Stat {
            kind,
            expires_at: snap.hdr.expires_at,
            generation: snap.hdr.generation,
        })
    }

    /// The names of all entries in slot order (no secrets). A malformed or
    /// changing entry is skipped.
    pub fn list(&self) -> Vec<String> {
        let m = self.current_mapping();
        let mut names = Vec::new();
        let mut snap = Snapshot::default();
        for i in 0..m.slot_count() {
            if m.slot_name_hash(i) == 0 || m.read_slot(i, Fields::NONE, &mut snap).is_err() {
                continue;
            }
            if snap.hdr.kind == KIND_FREE || snap.name.is_empty() {
                continue;
            }
            names.push(String::from_utf8_lossy(&snap.name).into_owned());
        }
        names
    }

    /// The agent's pid and heartbeat as the segment header has them.
    pub fn agent_info(&self) -> AgentInfo {
        let m = self.current_mapping();
        AgentInfo {
            pid: m.writer_pid(),
            heartbeat_ms: m.heartbeat_ms(),
        }
    }

    /// Blocks until entry `name` has a generation greater than
    /// `after_generation` (also for a name that does not exist yet), or
    /// `timeout` passes (`ETIMEOUT`; None waits forever). Returns the new
    /// generation. Waits on the segment's futex words: no socket, no polling.
    pub fn wait(&self, name: &str, after_generation: u64, timeout: Option<Duration>) -> Result<u64> {
        let name_bytes = check_name(name)?;
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut snap = Snapshot::default();
        loop {
            let m = self.current_mapping();
            // Futex words are loaded before the state they guard: a publish in
            // between changes the word and the wait returns at once.
            let change = m.change_seq();
            let mut word: &AtomicU32 = change;
            let mut expected = change.load(Ordering::Acquire);
            if let Ok(slot) = m.find_and_read(name_bytes, Fields::NONE, &mut snap) {
                let gen_word = m.gen_futex(slot).load(Ordering::Acquire);
                match m.find_and_read(name_bytes, Fields::NONE, &mut snap) {
                    Ok(_) if snap.hdr.generation > after_generation => return Ok(snap.hdr.generation),
                    Ok(again) if again == slot => {
                        word = m.gen_futex(slot);
                        expected = gen_word;
                    }
                    _ => {}
                }
            }
            if m.flags() & FLAG_REPLACED != 0 {
                if !ptr::eq(self.current_mapping(), m) {
                    continue;
                }
                // Replaced, but the new file is not readable yet: poll gently.
                let poll = Duration::from_millis(100);
                if deadline.is_none_or(|d| d.saturating_duration_since(Instant::now()) > poll) {
                    futex_wait(change, change.load(Ordering::Acquire), Some(poll));
                    continue;
                }
            }
            let remaining = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(Error::ETimeout);
                    }
                    Some(left)
                }
                None => None,
            };
            futex_wait(word, expected, remaining);
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let st = self.remap.get_mut().unwrap_or_else(|e| e.into_inner());
        for &m in &st.retired {
            drop(unsafe { Box::from_raw(m) });
        }
        drop(unsafe { Box::from_raw(*self.current.get_mut()) });
    }
}

// The raw mapping pointers are owned by the reader and only read through.
unsafe impl Send for Reader {}
unsafe impl Sync for Reader {}

fn names_other_file(path: &Path, m: &Mapping) -> bool {
    match (std::fs::metadata(path), m.file_id) {
        (Ok(st), Some(id)) => (st.dev(), st.ino()) != id,
        _ => false,
    }
}

/// Sleeps while `*word == expected`, at most `timeout` (None: forever).
/// Shared, not FUTEX_PRIVATE: the word lives in a file mapping the agent
/// wakes from another process. EINTR, EAGAIN and spurious wakes just return;
/// the caller re-checks.
fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts.as_ref().map_or(ptr::null(), |t| t as *const libc::timespec);
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            ts_ptr,
            ptr::null::<u32>(),
            0u32,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_outside_1_to_64_bytes_are_einval() {
        assert_eq!(check_name(""), Err(Error::EInval));
        assert_eq!(check_name(&"n".repeat(65)), Err(Error::EInval));
        assert_eq!(check_name("a\0b"), Err(Error::EInval));
        assert!(check_name(&"n".repeat(64)).is_ok());
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let c = Credential {
            username: "oid".into(),
            token: Secret("eyJ-very-secret".into()),
            expires_at: 1,
            generation: 2,
        };
        let shown = format!("{c:?}");
        assert!(shown.contains("oid") && !shown.contains("very-secret"), "{shown}");
    }

    #[test]
    fn a_missing_segment_is_eunavailable() {
        let dir = std::env::temp_dir().join(format!("tokenwell-rs-missing-{}", std::process::id()));
        assert_eq!(Reader::open(&dir).unwrap_err(), Error::EUnavailable);
    }
}
