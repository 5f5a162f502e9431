//! Any bytes as a segment image: the reader must not panic, read out of
//! bounds (AddressSanitizer) or return a value larger than its copy.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokenwell::Reader;

fuzz_target!(|image: &[u8]| {
    let Ok(reader) = Reader::from_bytes(image) else { return };
    let capacity = u32::from_le_bytes(image[20..24].try_into().unwrap()) as usize - 64;
    let mut names = reader.list();
    names.extend(["redis", "sessions", "big"].map(String::from));
    for name in &names {
        if let Ok(c) = reader.read(name) {
            assert!(c.token().len() + c.username().len() + name.len() <= capacity);
        }
        if let Ok(k) = reader.read_keyset(name) {
            assert!(k.jwks.len() + k.private_key.expose().len() <= capacity);
        }
        let _ = (reader.read_public(name), reader.stat(name));
        let _ = reader.wait(name, u64::MAX, Some(std::time::Duration::ZERO));
    }
    let _ = reader.agent_info();
});
