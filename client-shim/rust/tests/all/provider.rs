//! tokenwell::redis::CredentialsProvider: the streams redis-rs subscribes to,
//! fed by the real SegmentWriter; and a real redis-rs ConnectionManager
//! re-authenticating on a real redis-server when the credential rotates.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt;
use redis::auth::{BasicAuth, StreamingCredentialsProvider};
use tokenwell::Error;
use tokenwell::redis::CredentialsProvider;

use crate::common::{TempDir, Writer, now};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn provider(dir: &std::path::Path, startup_timeout: Duration) -> CredentialsProvider {
    CredentialsProvider::builder("redis")
        .dir(dir)
        .startup_timeout(startup_timeout)
        .build()
        .unwrap()
}

fn pair(a: &BasicAuth) -> (String, String) {
    (a.username().to_owned(), a.password().to_owned())
}

/// Bounds every await: a test that hangs is a failure, not a stuck CI.
async fn within<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("no answer within 60 s")
}

#[test]
#[ignore = "needs the C++ writer: $TOKENWELL_TEST_WRITER (ctest sets it)"]
fn the_first_credentials_wait_for_the_agents_first_publish() {
    let dir = TempDir::new("startup");
    let p = provider(dir.path(), Duration::from_secs(60));
    assert_eq!(p.current().unwrap_err(), Error::EUnavailable);
    runtime().block_on(async {
        let mut stream = p.subscribe();
        let first = tokio::spawn(async move { stream.next().await });
        // The segment appears after the subscription (an app started before its agent).
        let mut w = Writer::start(dir.path());
        w.publish("redis", "oid-1", "token-1", now() + 3600);
        let got = within(first).await.unwrap().unwrap().unwrap();
        assert_eq!(pair(&got), ("oid-1".into(), "token-1".into()));
    });
}

#[test]
#[ignore = "needs the C++ writer: $TOKENWELL_TEST_WRITER (ctest sets it)"]
fn without_a_valid_value_the_first_credentials_fail_with_the_c_error_name() {
    let rt = runtime();
    let first_error = |p: &CredentialsProvider| {
        let err = rt.block_on(within(p.subscribe().next())).unwrap().unwrap_err();
        assert_eq!(err.kind(), redis::ErrorKind::AuthenticationFailed);
        err.to_string()
    };
    let dir = TempDir::new("timeout");
    let msg = first_error(&provider(dir.path(), Duration::from_millis(100)));
    assert!(msg.contains("EUNAVAILABLE") && msg.contains("\"redis\""), "{msg}");

    let mut w = Writer::start(dir.path());
    let g = w.publish("redis", "oid", "old-token", now() - 5);
    let p = provider(dir.path(), Duration::from_secs(2));
    let msg = first_error(&p);
    assert!(msg.contains("ENOVALUE") && !msg.contains("old-token"), "{msg}");
    assert!(matches!(p.current(), Err(Error::ENoValue { generation, .. }) if generation == g));

    w.publish("other", "oid", "t", 0);
    let msg = first_error(&provider(dir.path(), Duration::from_secs(2)));
    assert!(msg.contains("ENOVALUE"), "{msg}");
    let p = CredentialsProvider::builder("nope")
        .dir(dir.path())
        .startup_timeout(Duration::from_secs(2));
    let msg = first_error(&p.build().unwrap());
    assert!(msg.contains("ENOTFOUND") && msg.contains("\"nope\""), "{msg}");
}

#[test]
#[ignore = "needs the C++ writer: $TOKENWELL_TEST_WRITER (ctest sets it)"]
fn every_new_generation_reaches_every_stream_through_errors_growth_and_a_new_segment() {
    let dir = TempDir::new("push");
    let mut w = Writer::start(dir.path());
    w.publish("redis", "oid", "token-1", now() + 3600);
    let p = provider(dir.path(), Duration::from_secs(60));
    runtime().block_on(async {
        let (mut a, mut b) = (p.subscribe(), p.subscribe());
        for s in [&mut a, &mut b] {
            assert_eq!(pair(&within(s.next()).await.unwrap().unwrap()).1, "token-1");
        }
        w.publish("redis", "oid", "token-2", now() + 3600);
        for s in [&mut a, &mut b] {
            assert_eq!(pair(&within(s.next()).await.unwrap().unwrap()).1, "token-2");
        }
        // A stream redis-rs dropped (its connection closed) does not stop the others.
        drop(b);
        // The entry removed: nothing is pushed, the last good value stays current.
        w.cmd("remove redis");
        assert_eq!(p.current().unwrap().token(), "token-2");
        w.publish("redis", "", "token-3", now() + 3600); // no username: the default user
        assert_eq!(
            pair(&within(a.next()).await.unwrap().unwrap()),
            ("default".into(), "token-3".into())
        );
        // The file grows (renamed over): the watcher follows it.
        w.cmd("resize 8 65536");
        w.publish("redis", "oid", "token-4", now() + 3600);
        assert_eq!(pair(&within(a.next()).await.unwrap().unwrap()).1, "token-4");
        // The agent's directory emptied and a new agent started: a new segment.
        drop(w);
        std::fs::remove_file(dir.path().join("segment")).unwrap();
        let mut w = Writer::start(dir.path());
        w.publish("redis", "oid", "token-5", now() + 3600);
        assert_eq!(pair(&within(a.next()).await.unwrap().unwrap()).1, "token-5");
        // A later subscriber starts at the current value.
        assert_eq!(
            pair(&within(p.subscribe().next()).await.unwrap().unwrap()).1,
            "token-5"
        );
    });
    assert_eq!(
        p.reauth_pushes(),
        1 + 3 + 1,
        "token-2 twice, then 3, 4 and 5 on one stream"
    );
}

/// A redis-server on a free loopback port with users u1, u2 (ACL), killed on drop.
struct RedisServer(Child, u16);

impl RedisServer {
    fn start(dir: &std::path::Path) -> RedisServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--dir", dir.to_str().unwrap(), "--user", "default", "off"])
            .args(["--user", "u1", "on", ">p1", "~*", "&*", "+@all"])
            .args(["--user", "u2", "on", ">p2", "~*", "&*", "+@all"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/install-deps.sh installs it)");
        RedisServer(child, port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[ignore = "needs the C++ writer: $TOKENWELL_TEST_WRITER (ctest sets it)"]
fn a_connection_manager_re_authenticates_its_live_connection_on_rotation() {
    let dir = TempDir::new("redis");
    let server = RedisServer::start(dir.path());
    let mut w = Writer::start(dir.path());
    w.publish("redis", "u1", "p1", now() + 3600);
    let p = provider(dir.path(), Duration::from_secs(60));
    runtime().block_on(async {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", server.1)).unwrap();
        let config = redis::aio::ConnectionManagerConfig::new().set_credentials_provider(p.clone());
        let mut conn = None;
        for _ in 0..500 {
            // redis-server may still be starting: bounded retries, not a sleep.
            match redis::aio::ConnectionManager::new_with_config(client.clone(), config.clone()).await {
                Ok(c) => {
                    conn = Some(c);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        let mut conn = conn.expect("redis-server answers");
        let whoami = |c: &mut redis::aio::ConnectionManager| {
            let mut c = c.clone();
            async move {
                redis::cmd("ACL")
                    .arg("WHOAMI")
                    .query_async::<String>(&mut c)
                    .await
                    .unwrap()
            }
        };
        let id: i64 = redis::cmd("CLIENT")
            .arg("ID")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(whoami(&mut conn).await, "u1");
        // The rotation names another user: the same connection must become u2.
        w.publish("redis", "u2", "p2", now() + 3600);
        let mut user = String::new();
        for _ in 0..1000 {
            user = whoami(&mut conn).await;
            if user == "u2" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(user, "u2", "the live connection was not re-authenticated");
        let same: i64 = redis::cmd("CLIENT")
            .arg("ID")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(same, id, "re-authenticated in place, not reconnected");
    });
    assert!(p.reauth_pushes() >= 1);
}
