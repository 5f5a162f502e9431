//! Property tests over hostile segments (the fuzz target of this crate; see
//! README "Tests"): the shared vector files with random bytes and random copy
//! header lengths written into them, and random images. Whatever the bytes,
//! the reader must not panic, must only return values that fit the copy, and
//! must never hand out a value with a status other than OK.

use proptest::prelude::*;
use tokenwell::Reader;

use crate::common::repo;

const HEADER: usize = 128;
const SLOT_HEADER: usize = 64;

fn vector(file: &str) -> Vec<u8> {
    std::fs::read(repo().join("tests/vectors/segment").join(file)).unwrap()
}

/// Reads everything a caller could ask of `image`; panics are the failure.
fn exercise(image: &[u8]) {
    let Ok(reader) = Reader::from_bytes(image) else {
        return;
    };
    let copy_size = u32::from_le_bytes(image[20..24].try_into().unwrap()) as usize;
    let mut names = reader.list();
    names.extend(["redis", "sessions", "verify-only", "password", "big", "decoy"].map(String::from));
    for name in &names {
        if let Ok(c) = reader.read(name) {
            assert!(c.token().len() + c.username().len() + name.len() <= copy_size - 64);
            assert!(c.username().len() <= tokenwell::USERNAME_MAX);
        }
        if let Ok(k) = reader.read_keyset(name) {
            assert!(k.jwks.len() + k.private_key.expose().len() <= copy_size - 64);
        }
        let _ = reader.read_public(name);
        let _ = reader.stat(name);
        let _ = reader.wait(name, u64::MAX, Some(std::time::Duration::ZERO));
    }
    let _ = reader.agent_info();
}

fn base() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec![
        "several.seg",
        "one-credential.seg",
        "replaced-new.seg",
        "ok-newer-abi.seg",
    ])
    .prop_map(vector)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_anywhere(mut image in base(), edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..32)) {
        for (at, byte) in edits {
            let i = at.index(image.len());
            image[i] = byte;
        }
        exercise(&image);
    }

    #[test]
    fn random_copy_header_lengths(mut image in base(), slot in 0usize..4, copy in 0usize..2,
                                  field in 0usize..4, value in any::<u32>()) {
        let slot_size = u32::from_le_bytes(image[16..20].try_into().unwrap()) as usize;
        let copy_size = u32::from_le_bytes(image[20..24].try_into().unwrap()) as usize;
        let at = HEADER + slot * slot_size + SLOT_HEADER + copy * copy_size + [32, 34, 36, 40][field];
        if at + 4 <= image.len() {
            match field {
                0 | 1 => image[at..at + 2].copy_from_slice(&(value as u16).to_le_bytes()),
                _ => image[at..at + 4].copy_from_slice(&value.to_le_bytes()),
            }
        }
        exercise(&image);
    }

    #[test]
    fn random_header_sizes(mut image in base(), field in 0usize..4, value in any::<u32>(), cut in any::<prop::sample::Index>()) {
        let at = [8, 12, 16, 20][field];
        image[at..at + 4].copy_from_slice(&value.to_le_bytes());
        let keep = HEADER + cut.index(image.len() - HEADER + 1);
        image.truncate(keep);
        exercise(&image);
    }

    #[test]
    fn random_images(image in prop::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&image);
    }
}

#[test]
fn an_image_reads_like_the_file() {
    let image = vector("several.seg");
    let reader = Reader::from_bytes(&image).unwrap();
    assert_eq!(
        reader.list(),
        [
            "redis",
            "expired",
            "pending",
            "password",
            "sessions",
            "verify-only"
        ]
    );
    assert_eq!(reader.read("redis").unwrap().generation(), 9);
    assert!(reader.path().is_none());
}
