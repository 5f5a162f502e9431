//! The crate's integration tests, in one binary (one link of redis and tokio):
//! the shared segment vectors, parity with the C library's codes and texts,
//! the reader against the real C++ SegmentWriter (torn reads, rotation wake-ups,
//! growth), the redis-rs provider, and property tests over hostile segments.
//!
//! Tests marked `#[ignore]` need the C++ writer (tests/vectors/segment_writer_tool,
//! path in $TOKENWELL_TEST_WRITER): ctest runs them with `--include-ignored`.

mod c_parity;
mod common;
mod properties;
mod provider;
mod vectors;
mod writer;
