//! Helpers: repository paths, a temporary directory, and the C++ writer tool.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The repository root (the crate is client-shim/rust).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fresh directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("tokenwell-rs-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Installs `src` as DIR/segment the way the agent does: write elsewhere,
/// rename over.
pub fn install(dir: &Path, src: &Path) {
    let tmp = dir.join("segment.incoming");
    std::fs::copy(src, &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("segment")).unwrap();
}

/// The agent's SegmentWriter in a child process (tests/vectors/segment_writer_tool.cpp,
/// protocol in tests/vectors/README.md).
pub struct Writer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Writer {
    pub fn start(dir: &Path) -> Writer {
        let tool = std::env::var_os("TOKENWELL_TEST_WRITER").expect(
            "TOKENWELL_TEST_WRITER must name tests/vectors' segment_writer_tool (ctest sets it; \
             cmake --build build --target segment_writer_tool)",
        );
        let mut child = Command::new(tool)
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start segment_writer_tool");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Writer { child, stdin, stdout }
    }

    /// Sends one command and returns its answer after "ok"; panics on "error ...".
    pub fn cmd(&mut self, line: &str) -> String {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        let mut reply = String::new();
        self.stdout.read_line(&mut reply).unwrap();
        let reply = reply.trim_end();
        match reply.strip_prefix("ok") {
            Some(rest) if rest.is_empty() || rest.starts_with(' ') => rest.trim_start().to_owned(),
            _ => panic!("{line:?} -> {reply:?}"),
        }
    }

    /// Publishes a value; returns its generation.
    pub fn publish(&mut self, name: &str, username: &str, secret: &str, expires_at: i64) -> u64 {
        let user = if username.is_empty() { "-" } else { username };
        self.cmd(&format!("publish {name} {user} {secret} {expires_at}"))
            .parse()
            .unwrap()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
