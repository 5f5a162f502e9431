//! A redis-rs `StreamingCredentialsProvider` over the segment.
//!
//!     let provider = tokenwell::redis::CredentialsProvider::new("redis")?;
//!     let config = redis::aio::ConnectionManagerConfig::new().set_credentials_provider(provider.clone());
//!     let conn = redis::aio::ConnectionManager::new_with_config(client, config).await?;
//!
//! One watcher thread per provider waits on the segment's futex for the
//! credential's next generation and publishes it to every subscriber stream;
//! redis-rs re-AUTHs each connection with it (redis crate feature
//! `token-based-authentication`). Each stream first yields the current valid
//! value, waiting for it up to `startup_timeout` (the app may start before the
//! agent's first publish), then every newer generation. A credential without
//! a username AUTHs as `default` (password-only), never as `""`.
//!
//! Thread-safe; clones share one watcher, which stops once the provider and
//! every stream handed to redis-rs are dropped.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::Stream;
use redis::auth::{BasicAuth, StreamingCredentialsProvider};
use redis::{ErrorKind, RedisError, RedisResult};
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::reader::{Credential, Reader, default_dir};

/// How long a new connection waits for a first valid value by default.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// The watcher re-checks that someone still listens this often.
const WAIT_SLICE: Duration = Duration::from_secs(1);
/// Pause before opening the segment again, or after a failed wait.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// What the watcher knows: the newest value, or why there is none yet.
#[derive(Clone)]
enum State {
    Pending(Error),
    Ready(Arc<Credential>),
}

/// Builds a [`CredentialsProvider`]: directory and startup timeout.
#[derive(Debug, Clone)]
pub struct Builder {
    name: String,
    dir: Option<PathBuf>,
    startup_timeout: Duration,
}

impl Builder {
    /// The agent's runtime directory (default `$TOKENWELL_DIR`, else `/run/tokenwell`).
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// How long a new connection waits for the segment and a first valid
    /// value before failing with the tokenwell error (default 30 s).
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Starts the watcher. `EINVAL` for a name of 0 or more than 64 bytes.
    pub fn build(self) -> Result<CredentialsProvider> {
        if self.name.is_empty() || self.name.len() > crate::NAME_MAX || self.name.contains('\0') {
            return Err(Error::EInval);
        }
        let dir = self
            .dir
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or_else(default_dir);
        let (tx, rx) = watch::channel(State::Pending(Error::EUnavailable));
        let (name, watch_dir) = (self.name.clone(), dir.clone());
        std::thread::Builder::new()
            .name(format!("tokenwell-{}", self.name))
            .spawn(move || watch_loop(&name, &watch_dir, &tx))
            .map_err(|_| Error::ESystem)?;
        Ok(CredentialsProvider {
            inner: Arc::new(Inner {
                name: self.name,
                dir,
                startup_timeout: self.startup_timeout,
                rx,
                reauth_pushes: AtomicU64::new(0),
            }),
        })
    }
}

struct Inner {
    name: String,
    dir: PathBuf,
    startup_timeout: Duration,
    rx: watch::Receiver<State>,
    reauth_pushes: AtomicU64,
}

/// redis-rs's `StreamingCredentialsProvider` for one tokenwell credential.
#[derive(Clone)]
pub struct CredentialsProvider {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CredentialsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsProvider")
            .field("name", &self.inner.name)
            .field("dir", &self.inner.dir)
            .finish()
    }
}

impl CredentialsProvider {
    /// A provider for credential `name` in the default directory.
    pub fn new(name: &str) -> Result<CredentialsProvider> {
        CredentialsProvider::builder(name).build()
    }

    /// A builder for credential `name`.
    pub fn builder(name: &str) -> Builder {
        Builder {
            name: name.to_owned(),
            dir: None,
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
        }
    }

    /// The newest valid value the watcher has, or why there is none: the
    /// reader's error, or `ENOVALUE` once the newest value expired.
    pub fn current(&self) -> Result<Credential> {
        match &*self.inner.rx.borrow() {
            State::Ready(c) if c.valid_at(unix_now()) => Ok((**c).clone()),
            state => Err(state_error(state)),
        }
    }

    /// How many new generations the provider's streams have handed to
    /// connections already authenticated (each one is a re-AUTH redis-rs
    /// sends; whether the server accepted it is not reported back).
    pub fn reauth_pushes(&self) -> u64 {
        self.inner.reauth_pushes.load(Ordering::Relaxed)
    }
}

impl StreamingCredentialsProvider for CredentialsProvider {
    fn subscribe(&self) -> Pin<Box<dyn Stream<Item = RedisResult<BasicAuth>> + Send + 'static>> {
        let sub = Subscription {
            inner: self.inner.clone(),
            rx: self.inner.rx.clone(),
            last: None,
        };
        Box::pin(futures_util::stream::unfold(sub, next_credentials))
    }
}

/// One stream handed to redis-rs: the value it yielded last.
struct Subscription {
    inner: Arc<Inner>,
    rx: watch::Receiver<State>,
    last: Option<Arc<Credential>>,
}

/// The stream's next item: a valid value newer than the last one yielded.
/// The first item waits at most `startup_timeout`, then is the tokenwell
/// error (the stream goes on: a later item may still be a value).
async fn next_credentials(mut sub: Subscription) -> Option<(RedisResult<BasicAuth>, Subscription)> {
    let deadline = tokio::time::Instant::now() + sub.inner.startup_timeout;
    loop {
        let state = sub.rx.borrow_and_update().clone();
        if let State::Ready(c) = &state
            && c.valid_at(unix_now())
            && !sub.last.as_ref().is_some_and(|l| Arc::ptr_eq(l, c))
        {
            if sub.last.is_some() {
                sub.inner.reauth_pushes.fetch_add(1, Ordering::Relaxed);
            }
            sub.last = Some(c.clone());
            return Some((Ok(basic_auth(c)), sub));
        }
        let changed = if sub.last.is_none() {
            match tokio::time::timeout_at(deadline, sub.rx.changed()).await {
                Ok(r) => r,
                Err(_) => {
                    let err = redis_error(&sub.inner, state_error(&state));
                    return Some((Err(err), sub));
                }
            }
        } else {
            sub.rx.changed().await
        };
        if changed.is_err() {
            // The watcher is gone, which only a bug can do: say so, loudly.
            log::error!(
                "tokenwell: the watcher of {:?} stopped; no further rotations",
                sub.inner.name
            );
            return None;
        }
    }
}

/// redis-rs's credentials for a value. No username means password-only AUTH,
/// which is the `default` user: redis-rs always sends a username, and `""`
/// would be refused (WRONGPASS).
fn basic_auth(c: &Credential) -> BasicAuth {
    let username = if c.username().is_empty() {
        "default"
    } else {
        c.username()
    };
    BasicAuth::new(username.to_owned(), c.token().to_owned())
}

fn state_error(state: &State) -> Error {
    match state {
        State::Pending(e) => *e,
        State::Ready(c) => Error::ENoValue {
            expires_at: c.expires_at(),
            generation: c.generation(),
        },
    }
}

fn redis_error(inner: &Inner, e: Error) -> RedisError {
    let detail = format!(
        "{} for credential {:?} in {} after {:?}: {e}",
        e.name(),
        inner.name,
        inner.dir.display(),
        inner.startup_timeout
    );
    RedisError::from((ErrorKind::AuthenticationFailed, "tokenwell", detail))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The watcher thread: runs while anyone listens; a panic in one step is
/// logged and the loop goes on with a fresh reader.
fn watch_loop(name: &str, dir: &std::path::Path, tx: &watch::Sender<State>) {
    let mut watcher = Watcher {
        reader: None,
        seen: None,
    };
    while !tx.is_closed() {
        if catch_unwind(AssertUnwindSafe(|| watcher.step(name, dir, tx))).is_err() {
            log::error!("tokenwell: watcher of {name:?} panicked; starting over");
            watcher = Watcher {
                reader: None,
                seen: None,
            };
            std::thread::sleep(RETRY_PAUSE);
        }
    }
}

struct Watcher {
    reader: Option<Reader>,
    /// The generation last seen (valid or not), to wait for a newer one.
    seen: Option<u64>,
}

impl Watcher {
    fn step(&mut self, name: &str, dir: &std::path::Path, tx: &watch::Sender<State>) {
        if self.reader.as_ref().is_none_or(Reader::segment_moved) {
            match Reader::open(dir) {
                Ok(r) => self.reader = Some(r),
                Err(e) => {
                    // Keeps the last good value; before it, says why there is none.
                    set_pending(tx, e);
                    std::thread::sleep(RETRY_PAUSE);
                    return;
                }
            }
        }
        let reader = self.reader.as_ref().expect("opened above");
        match reader.read(name) {
            Ok(c) => {
                if self.seen != Some(c.generation()) {
                    self.seen = Some(c.generation());
                    tx.send_replace(State::Ready(Arc::new(c)));
                }
            }
            Err(e) => {
                if let Error::ENoValue { generation, .. } = e {
                    self.seen = Some(generation);
                }
                set_pending(tx, e);
            }
        }
        // A newer generation, the slice, or a changed segment ends the wait.
        match reader.wait(name, self.seen.unwrap_or(0), Some(WAIT_SLICE)) {
            Ok(_) | Err(Error::ETimeout) => {}
            Err(_) => std::thread::sleep(RETRY_PAUSE),
        }
    }
}

fn set_pending(tx: &watch::Sender<State>, e: Error) {
    tx.send_if_modified(|state| match state {
        State::Pending(old) if *old != e => {
            *old = e;
            true
        }
        _ => false,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_username_authenticates_as_default_never_as_empty() {
        let cred = |user: &str| Credential::new(user.into(), "tok".into(), 0, 7);
        assert_eq!(basic_auth(&cred("")).username(), "default");
        assert_eq!(basic_auth(&cred("oid-1")).username(), "oid-1");
        assert_eq!(basic_auth(&cred("oid-1")).password(), "tok");
    }

    #[test]
    fn a_bad_name_is_einval() {
        assert_eq!(CredentialsProvider::new("").unwrap_err(), Error::EInval);
        assert_eq!(
            CredentialsProvider::new(&"x".repeat(65)).unwrap_err(),
            Error::EInval
        );
    }
}
