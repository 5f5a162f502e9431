//! The error codes, names and texts are libtokenwell's: read from the C
//! header and source in this repository, so a change there fails here.

use tokenwell::Error;

use crate::common::repo;

const ALL: [Error; 11] = [
    Error::EInval,
    Error::ENotFound,
    Error::ENoValue {
        expires_at: 0,
        generation: 0,
    },
    Error::EUnavailable,
    Error::EFormat,
    Error::EVersion,
    Error::ETooSmall,
    Error::ETimeout,
    Error::EBusy,
    Error::ENoMem,
    Error::ESystem,
];

#[test]
fn codes_match_tokenwell_h() {
    let h = std::fs::read_to_string(repo().join("client-shim/include/tokenwell/tokenwell.h")).unwrap();
    for e in ALL {
        let decl = format!("TOKENWELL_{} = {}", e.name(), e.code());
        assert!(h.contains(&decl), "tokenwell.h lacks {decl:?}");
    }
}

#[test]
fn texts_match_tokenwell_strerror() {
    let c = std::fs::read_to_string(repo().join("client-shim/src/tokenwell.c")).unwrap();
    for e in ALL {
        let line = format!("case TOKENWELL_{}: return \"{}\";", e.name(), e);
        assert!(c.contains(&line), "tokenwell.c's strerror lacks {line:?}");
    }
}
