//! The reader against the agent's real SegmentWriter (in a child process):
//! torn reads under fast rotation and growth, futex wake-ups, values that
//! expire or were never fetched, removal, remapping after growth.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokenwell::{Credential, Error, Reader};

use crate::common::{TempDir, Writer, now};

const CAPACITY: u64 = 4096;
const MAX_TOKEN: u64 = CAPACITY - 8 - 24;
const EXPIRY_BASE: i64 = 4_000_000_000;

/// Whether `c` is exactly the value segment_writer_tool's `rotate` derives
/// from the seed in its first 16 hex digits, published as that generation.
fn is_whole(c: &Credential) -> bool {
    let t = c.token().as_bytes();
    let Some(seed) = t
        .get(..16)
        .and_then(|h| u64::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok())
    else {
        return false;
    };
    let len = 16 + (seed.wrapping_mul(7919) % (MAX_TOKEN - 16 + 1)) as usize;
    t.len() == len
        && (16..len).all(|i| {
            let x = seed
                .wrapping_mul(1_315_423_911)
                .wrapping_add((i as u64).wrapping_mul(2_654_435_761));
            t[i] == b'a' + ((x >> 13) % 26) as u8
        })
        && c.username() == format!("user-{seed:016x}")
        && c.expires_at() == EXPIRY_BASE + (seed % 100_000) as i64
        && c.generation() == seed
}

#[test]
#[ignore = "needs the C++ writer: $TOKENWELL_TEST_WRITER (ctest sets it)"]
fn no_torn_reads_while_the_writer_rotates_and_grows_the_segment() {
    let dir = TempDir::new("torn");
    let mut w = Writer::start(dir.path());
    w.cmd("rotate stress 1 0");
    let reader = Reader::open(dir.path()).unwrap();
    let stop = AtomicBool::new(false);
    let (reads, torn, busy, changes, other) = (
        AtomicU64::new(0),
        AtomicU64::new(0),
        AtomicU64::new(0),
        AtomicU64::new(0),
        AtomicU64::new(0),
    );
    let last = std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let mut prev = 0;
                while !stop.load(Ordering::Relaxed) {
                    match reader.read("stress") {
                        Ok(c) => {
                            if !is_whole(&c) {
                                torn.fetch_add(1, Ordering::Relaxed);
                            }
                            if c.generation() != prev {
                                changes.fetch_add(1, Ordering::Relaxed);
                                if c.generation() < prev {
                                    torn.fetch_add(1, Ordering::Relaxed); // went backwards
                                }
                                prev = c.generation();
                            }
                        }
                        Err(Error::EBusy) => {
                            busy.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            other.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        // 300,000 values; every 30,000th publish also grows the file (10 remaps).
        let reply = w.cmd("rotate stress 300000 30000");
        stop.store(true, Ordering::Relaxed);
        reply
    });
    let last_gen: u64 = last.rsplit(' ').next().unwrap().parse().unwrap();
    let (reads, torn, busy, changes, other) = (
        reads.into_inner(),
        torn.into_inner(),
        busy.into_inner(),
        changes.into_inner(),
        other.into_inner(),
    );
    println!(
        "torn reads: {reads} reads, {changes} value changes seen, {torn} torn, {busy} busy, {other} other errors"
    );
    assert_eq!((torn, other), (0, 0), "{reads} reads");
    assert!(
        changes > 100,
        "the readers saw only {changes} values change: no concurrency tested"
    );
    // The reader followed every growth to the newest file.
    let c = reader.read("stress").unwrap();
    assert!(
        is_whole(&c) && c.generation() == last_gen,
        "after the run: generation {}",
        c.generation()
    );
}

#[test]
#[ignore = "needs the C++ writer: $TOKENWELL_TEST_WRITER (ctest sets it)"]
fn wait_returns_the_next_generation_and_times_out_without_one() {
    let dir = TempDir::new("wait");
    let mut w = Writer::start(dir.path());
    let g1 = w.publish("redis", "oid", "token-1", now() + 3600);
    let reader = Reader::open(dir.path()).unwrap();
    assert_eq!(
        reader.wait("redis", g1, Some(Duration::from_millis(50))),
        Err(Error::ETimeout)
    );
    assert_eq!(
        reader.wait("redis", g1 - 1, Some(Duration::ZERO)),
        Ok(g1),
        "an older generation returns at once"
    );
    std::thread::scope(|s| {
        let waiter = s.spawn(|| reader.wait("redis", g1, Some(Duration::from_secs(60))));
        let g2 = w.publish("redis", "oid", "token-2", now() + 3600);
        assert_eq!(waiter.join().unwrap(), Ok(g2));
        // A name that does not exist yet: woken by the publish that adds it.
        let waiter = s.spawn(|| reader.wait("later", 0, Some(Duration::from_secs(60))));
        let g3 = w.publish("later", "oid", "token-3", 0);
        assert_eq!(waiter.join().unwrap(), Ok(g3));
    });
    assert_eq!(reader.wait("", 0, None), Err(Error::EInval));
}

#[test]
#[ignore = "needs the C++ writer: $TOKENWELL_TEST_WRITER (ctest sets it)"]
fn expired_pending_removed_and_grown_entries() {
    let dir = TempDir::new("states");
    let mut w = Writer::start(dir.path());
    let exp = now() - 10;
    let g_expired = w.publish("expired", "oid", "old-token", exp);
    let g_pending: u64 = w
        .cmd("pending pending")
        .strip_prefix("gen ")
        .unwrap()
        .parse()
        .unwrap();
    let g_pw = w.publish("password", "", "s3cret", 0);
    let reader = Reader::open(dir.path()).unwrap();
    assert_eq!(
        reader.read("expired"),
        Err(Error::ENoValue {
            expires_at: exp,
            generation: g_expired
        })
    );
    assert_eq!(
        reader.read("pending"),
        Err(Error::ENoValue {
            expires_at: 0,
            generation: g_pending
        })
    );
    let pw = reader.read("password").unwrap();
    assert_eq!(
        (pw.username(), pw.token(), pw.expires_at(), pw.generation()),
        ("", "s3cret", 0, g_pw)
    );
    assert_eq!(reader.read_keyset("password"), Err(Error::ENotFound));
    assert_eq!(reader.list(), ["expired", "pending", "password"]);

    w.cmd("remove expired");
    assert_eq!(reader.read("expired"), Err(Error::ENotFound));
    assert_eq!(reader.list(), ["pending", "password"]);

    // Growth renames a new file over the segment: an entry added after it is
    // found through the same reader (a miss re-checks REPLACED and remaps).
    w.cmd("resize 9 8192");
    let big = "b".repeat(6000);
    let g_big = w.publish("big", "", &big, 0);
    let c = reader.read("big").unwrap();
    assert_eq!((c.token().len(), c.generation()), (6000, g_big));
    assert_eq!(
        reader.read("password").unwrap().generation(),
        g_pw,
        "values survive growth"
    );
}
