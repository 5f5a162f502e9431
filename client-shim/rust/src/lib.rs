//! tokenwell: read credentials that tokenwell-agent publishes into its
//! shared-memory segment, and hand them to redis-rs as a streaming
//! credentials provider so every connection re-AUTHs on rotation.
//!
//! ```ignore
//! let reader = tokenwell::Reader::open_default()?;      // $TOKENWELL_DIR or /run/tokenwell
//! let cred = reader.read("redis")?;                      // no system call
//! println!("{} (generation {})", cred.username(), cred.generation());
//! ```
//!
//! Pure Rust over `libc`: no C library. The segment format is
//! docs/segment-format.md; errors are libtokenwell's, by the same names.

mod error;
mod reader;
#[cfg(feature = "redis")]
pub mod redis;
mod segment;

pub use error::{Error, Result};
pub use reader::{AgentInfo, Credential, Keyset, Kind, Reader, Secret, Stat, default_dir};
pub use segment::{NAME_MAX, USERNAME_MAX};
