//! The reader against the agent's real SegmentWriter (in a child process):
//! torn reads under fast rotation and growth, futex wake-ups, values that
//! expire or were never fetched, removal, remapping after growth.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokenwell::{Credential, Error, Reader};

use crate::common::{TempDir, Writer, now};

/// The format's name hash without its 0 -> 1 rule.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(14_695_981_039_346_656_037, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(1_099_511_628_211)
    })
}

/// Whether `c` is exactly one value of segment_writer_tool's `rotate`
/// (tests/vectors/README.md, "Checksummed values"): the token's own checksum,
/// then username, expiry and generation against the seed in its first 16 hex digits.
fn is_whole(c: &Credential) -> bool {
    let t = c.token().as_bytes();
    if t.len() < 32 {
        return false;
    }
    let (body, sum) = t.split_at(t.len() - 16);
    let Some(seed) = std::str::from_utf8(&t[..16])
        .ok()
        .and_then(|h| u64::from_str_radix(h, 16).ok())
    else {
        return false;
    };
    sum == format!("{:016x}", fnv1a64(body)).as_bytes()
        && c.username() == format!("user-{seed:016x}")
        && c.expires_at() == 4_000_000_000 + (seed % 100_000) as i64
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
        // 300,000 values; every 30,000th publish also renames a new file over the segment (10 remaps).
        let reply = w.cmd("rotate stress 300000 30000");
        stop.store(true, Ordering::Relaxed);
        reply
    });
    // "COUNT GEN": the generation of the last value published.
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
    let g_pending: u64 = w.cmd("pending pending").parse().unwrap();
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
