//! Every case of the shared segment vectors (tests/vectors/segment/vectors.json,
//! read from the repository, never copied): open status, list order, agent
//! info, every read's status and values, and the REPLACED case on one reader.

use serde_json::Value;
use tokenwell::{Error, Reader};

use crate::common::{TempDir, install, repo};

/// What one read gave, in the vectors' terms.
#[derive(Default)]
struct Row {
    status: &'static str,
    username: String,
    secret: String,
    public: String,
    expires_at: i64,
    generation: u64,
}

fn row_of_error(e: Error) -> Row {
    // ENOVALUE still reports expiry and generation; never a secret.
    let (expires_at, generation) = match e {
        Error::ENoValue {
            expires_at,
            generation,
        } => (expires_at, generation),
        _ => (0, 0),
    };
    Row {
        status: e.name(),
        expires_at,
        generation,
        ..Row::default()
    }
}

fn check_read(reader: &Reader, want: &Value, case: &str, failures: &mut Vec<String>) {
    let name = want["name"].as_str().unwrap();
    let what = format!("{case}: read {name} as {}", want["as"]);
    let got = match want["as"].as_str().unwrap() {
        "credential" => reader.read(name).map_or_else(row_of_error, |c| Row {
            status: "OK",
            username: c.username().into(),
            secret: c.token().into(),
            expires_at: c.expires_at(),
            generation: c.generation(),
            ..Row::default()
        }),
        "keyset" => reader.read_keyset(name).map_or_else(row_of_error, |k| Row {
            status: "OK",
            secret: k.private_key.expose().into(),
            public: k.jwks.clone(),
            expires_at: k.expires_at,
            generation: k.generation,
            ..Row::default()
        }),
        other => panic!("unknown 'as' {other}"),
    };
    let mut check = |ok: bool, msg: String| {
        if !ok {
            failures.push(format!("{what}: {msg}"));
        }
    };
    let status = want["status"].as_str().unwrap();
    check(
        got.status == status,
        format!("status {} (want {status})", got.status),
    );
    if status == "OK" {
        check(
            want["username"] == got.username.as_str(),
            format!("username {:?}", got.username),
        );
        check(want["secret"] == got.secret.as_str(), "secret differs".into());
        check(
            want["as"] == "credential" || want["public"] == got.public.as_str(),
            "public differs".into(),
        );
    }
    if status == "OK" || status == "ENOVALUE" {
        check(
            want["expires_at"].as_i64() == Some(got.expires_at),
            format!("expires_at {}", got.expires_at),
        );
        check(
            want["generation"].as_u64() == Some(got.generation),
            format!("generation {}", got.generation),
        );
    }
}

#[test]
fn every_shared_vector_reads_as_specified() {
    let dir = repo().join("tests/vectors/segment");
    let doc: Value = serde_json::from_slice(&std::fs::read(dir.join("vectors.json")).unwrap()).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 20, "only {} cases", cases.len());
    let mut failures = Vec::new();
    let mut reads = 0;
    for c in cases {
        let file = c["file"].as_str().unwrap();
        let tmp = TempDir::new("vec");
        install(tmp.path(), &dir.join(file));
        let opened = Reader::open(tmp.path());
        let status = opened.as_ref().map_or_else(|e| e.name(), |_| "OK");
        if status != c["open"] {
            failures.push(format!("{file}: open {status} (want {})", c["open"]));
            continue;
        }
        let Ok(reader) = opened else { continue };
        let want_list: Vec<&str> = c["list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        if reader.list() != want_list {
            failures.push(format!("{file}: list {:?} (want {want_list:?})", reader.list()));
        }
        if let Some(agent) = c.get("agent") {
            let info = reader.agent_info();
            if Some(i64::from(info.pid)) != agent["pid"].as_i64()
                || Some(info.heartbeat_ms) != agent["heartbeat_ms"].as_i64()
            {
                failures.push(format!("{file}: agent {info:?} (want {agent})"));
            }
        }
        for r in c["reads"].as_array().unwrap() {
            check_read(&reader, r, file, &mut failures);
            reads += 1;
        }
        if let Some(next) = c.get("replaced_by") {
            install(tmp.path(), &dir.join(next.as_str().unwrap()));
            for r in c["reads_after_replace"].as_array().unwrap() {
                check_read(&reader, r, &format!("{file} after {next}"), &mut failures);
                reads += 1;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("segment vectors: {} cases, {reads} reads", cases.len());
}

#[test]
fn a_fifo_named_segment_is_refused_without_hanging() {
    let tmp = TempDir::new("fifo");
    let path =
        std::ffi::CString::new(tmp.path().join("segment").into_os_string().into_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    assert_eq!(Reader::open(tmp.path()).unwrap_err(), Error::EFormat);
}

#[test]
fn a_directory_named_segment_is_refused() {
    let tmp = TempDir::new("dir");
    std::fs::create_dir(tmp.path().join("segment")).unwrap();
    assert_eq!(Reader::open(tmp.path()).unwrap_err(), Error::EFormat);
}
