//! redis_e2e_client -- the Rust client of the end-to-end matrix: redis-rs
//! (ConnectionManager, cluster-async) with tokenwell::redis::CredentialsProvider
//! against the strict Azure Redis stand-in, following tests/redis/clients.md
//! exactly (command line, workload, one JSON line on stdout).
//!
//!   redis_e2e_client --dir DIR --host H --port P --cluster-host H --cluster-port P
//!                    --duration SECONDS [--name redis] [--tag T] [--no-reauth]
//!
//! Tasks as an application has them: a writer (INCR/SET/GET, PUBLISH seq,
//! RPUSH seq) on a ConnectionManager; a RESP3 subscriber on its own
//! ConnectionManager (re-AUTHed in place, resubscribed automatically after a
//! reconnect); a BLPOP reader; a cluster worker. With --no-reauth every
//! connection gets the username and token read once at start, as code that
//! ignores rotation would: the stand-in drops it when that token expires.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::{
    AsyncCommands, ConnectionAddr, IntoConnectionInfo, ProtocolVersion, PushKind, RedisConnectionInfo, Value,
};
use tokenwell::redis::CredentialsProvider;
use tokenwell::{Error, Reader};

/// Commands answer in well under this; BLPOP blocks 1 s (redis-rs's default
/// response timeout, 500 ms, would cut it).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

struct Args {
    dir: String,
    host: String,
    port: u16,
    cluster_host: String,
    cluster_port: u16,
    duration: f64,
    name: String,
    tag: String,
    no_reauth: bool,
}

fn usage(msg: &str) -> ! {
    eprintln!("redis_e2e_client: {msg}");
    eprintln!(
        "usage: redis_e2e_client --dir DIR --host H --port P --cluster-host H --cluster-port P \
         --duration SECONDS [--name redis] [--tag T] [--no-reauth]"
    );
    std::process::exit(2);
}

fn number<T: std::str::FromStr>(flag: &str, v: &str) -> T {
    v.parse()
        .unwrap_or_else(|_| usage(&format!("{flag}: not a number: {v}")))
}

fn parse_args() -> Args {
    let mut a = Args {
        dir: String::new(),
        host: "127.0.0.1".into(),
        port: 0,
        cluster_host: "127.0.0.1".into(),
        cluster_port: 0,
        duration: 0.0,
        name: "redis".into(),
        tag: "rust".into(),
        no_reauth: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--no-reauth" {
            a.no_reauth = true;
            continue;
        }
        const WITH_VALUE: [&str; 8] = [
            "--dir",
            "--host",
            "--port",
            "--cluster-host",
            "--cluster-port",
            "--duration",
            "--name",
            "--tag",
        ];
        if !WITH_VALUE.contains(&flag.as_str()) {
            usage(&format!("unknown argument {flag}"));
        }
        let Some(value) = it.next() else {
            usage(&format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--dir" => a.dir = value,
            "--host" => a.host = value,
            "--port" => a.port = number(&flag, &value),
            "--cluster-host" => a.cluster_host = value,
            "--cluster-port" => a.cluster_port = number(&flag, &value),
            "--duration" => a.duration = number(&flag, &value),
            "--name" => a.name = value,
            _ => a.tag = value,
        }
    }
    if a.dir.is_empty() || a.port == 0 || a.cluster_port == 0 || a.duration <= 0.0 {
        usage("--dir, --port, --cluster-port and --duration are required");
    }
    a
}

#[derive(Default)]
struct Counts {
    commands_ok: u64,
    commands_failed: u64,
    first_error: String,
    published: u64,
    sub_received: u64,
    sub_duplicates: u64,
    subscribe_confirmations: u64,
    disconnections: u64,
    blpop_received: u64,
    cluster_ok: u64,
    cluster_failed: u64,
    seen_sub: HashSet<u64>,
    seen_blpop: HashSet<u64>,
}

type Shared = Arc<Mutex<Counts>>;

fn ok(c: &Shared, n: u64) {
    c.lock().unwrap().commands_ok += n;
}

fn fail(c: &Shared, cluster: bool, e: &redis::RedisError) {
    let mut c = c.lock().unwrap();
    if cluster {
        c.cluster_failed += 1;
    } else {
        c.commands_failed += 1;
    }
    if c.first_error.is_empty() {
        c.first_error = format!("{e}").chars().take(200).collect();
    }
}

/// How connections authenticate: the provider, or one static credential.
#[derive(Clone)]
enum Auth {
    Streaming(CredentialsProvider),
    Static(String, String),
}

fn generation(reader: &Reader, name: &str) -> u64 {
    match reader.read(name) {
        Ok(c) => c.generation(),
        Err(Error::ENoValue { generation, .. }) => generation,
        Err(_) => 0,
    }
}

async fn manager(
    a: &Args,
    auth: &Auth,
    config: ConnectionManagerConfig,
) -> redis::RedisResult<ConnectionManager> {
    let mut settings = RedisConnectionInfo::default().set_protocol(ProtocolVersion::RESP3);
    let mut config = config.set_response_timeout(Some(RESPONSE_TIMEOUT));
    match auth {
        Auth::Streaming(p) => config = config.set_credentials_provider(p.clone()),
        Auth::Static(user, token) => settings = settings.set_username(user).set_password(token),
    }
    let info = ConnectionAddr::Tcp(a.host.clone(), a.port)
        .into_connection_info()?
        .set_redis_settings(settings);
    ConnectionManager::new_with_config(redis::Client::open(info)?, config).await
}

async fn writer(a: Arc<Args>, auth: Auth, c: Shared, end: Instant) {
    let (key, channel, list) = keys(&a);
    let mut conn = match manager(&a, &auth, ConnectionManagerConfig::new()).await {
        Ok(m) => m,
        Err(e) => return fail(&c, false, &e),
    };
    let mut seq: u64 = 0;
    while Instant::now() < end {
        seq += 1;
        let r: redis::RedisResult<()> = async {
            let _: i64 = conn.incr(format!("{key}-counter"), 1).await?;
            ok(&c, 1);
            let _: () = conn.set(&key, seq).await?;
            ok(&c, 1);
            let got: u64 = conn.get(&key).await?;
            ok(&c, 1);
            if got != seq {
                return Err((redis::ErrorKind::Client, "GET returned another value").into());
            }
            let _: i64 = conn.publish(&channel, seq).await?;
            ok(&c, 1);
            c.lock().unwrap().published += 1;
            let _: i64 = conn.rpush(&list, seq).await?;
            ok(&c, 1);
            Ok(())
        }
        .await;
        if let Err(e) = r {
            fail(&c, false, &e);
        }
        tokio::time::sleep(Duration::from_millis(20)).await; // pacing only
    }
}

fn keys(a: &Args) -> (String, String, String) {
    let t = &a.tag;
    (
        format!("tw-e2e-{t}-key"),
        format!("tw-e2e-{t}-channel"),
        format!("tw-e2e-{t}-list"),
    )
}

/// Whether `what` has caught up with every published message.
fn drained(c: &Shared, what: fn(&Counts) -> u64) -> bool {
    let c = c.lock().unwrap();
    what(&c) >= c.published
}

/// Runs until the writer is done and `what` caught up, or 5 s after it.
async fn until_drained(
    done: &tokio::sync::watch::Receiver<bool>,
    c: &Shared,
    what: fn(&Counts) -> u64,
    drain_end: &mut Option<Instant>,
) -> bool {
    if *done.borrow() {
        let end = *drain_end.get_or_insert_with(|| Instant::now() + Duration::from_secs(5));
        return drained(c, what) || Instant::now() > end;
    }
    false
}

async fn subscriber(
    a: Arc<Args>,
    auth: Auth,
    c: Shared,
    done: tokio::sync::watch::Receiver<bool>,
    subscribed: tokio::sync::oneshot::Sender<()>,
) {
    let (_, channel, _) = keys(&a);
    let counts = c.clone();
    let on_push = move |push: redis::PushInfo| -> Result<(), std::convert::Infallible> {
        let mut c = counts.lock().unwrap();
        match push.kind {
            PushKind::Message => {
                if let Some(Value::BulkString(data)) = push.data.get(1) {
                    let seq = String::from_utf8_lossy(data).parse().unwrap_or(0);
                    if c.seen_sub.insert(seq) {
                        c.sub_received += 1;
                    } else {
                        c.sub_duplicates += 1;
                    }
                }
            }
            PushKind::Subscribe => c.subscribe_confirmations += 1,
            PushKind::Disconnection => c.disconnections += 1,
            _ => {}
        }
        Ok(())
    };
    let config = ConnectionManagerConfig::new()
        .set_push_sender(on_push)
        .set_automatic_resubscription();
    let r = async {
        let mut conn = manager(&a, &auth, config).await?;
        conn.subscribe(&channel).await?;
        Ok::<_, redis::RedisError>(conn)
    }
    .await;
    let _ = subscribed.send(());
    let _conn = match r {
        Ok(conn) => conn, // kept: dropping it would close the subscription
        Err(e) => return fail(&c, false, &e),
    };
    let mut done = done;
    let mut drain_end = None;
    while !until_drained(&done, &c, |c| c.sub_received, &mut drain_end).await {
        let _ = tokio::time::timeout(Duration::from_millis(200), done.changed()).await;
    }
}

async fn blpop_reader(a: Arc<Args>, auth: Auth, c: Shared, done: tokio::sync::watch::Receiver<bool>) {
    let (_, _, list) = keys(&a);
    let mut conn = match manager(&a, &auth, ConnectionManagerConfig::new()).await {
        Ok(m) => m,
        Err(e) => return fail(&c, false, &e),
    };
    let mut drain_end = None;
    while !until_drained(&done, &c, |c| c.blpop_received, &mut drain_end).await {
        match conn.blpop::<_, Option<(String, u64)>>(&list, 1.0).await {
            Ok(item) => {
                ok(&c, 1);
                if let Some((_, seq)) = item {
                    let mut c = c.lock().unwrap();
                    if c.seen_blpop.insert(seq) {
                        c.blpop_received += 1;
                    }
                }
            }
            Err(e) => {
                fail(&c, false, &e);
                tokio::time::sleep(Duration::from_millis(20)).await; // no hot loop while down
            }
        }
    }
}

async fn cluster_worker(a: Arc<Args>, auth: Auth, c: Shared, end: Instant) {
    let (key, _, _) = keys(&a);
    let node = format!("redis://{}:{}/", a.cluster_host, a.cluster_port);
    let mut builder = ClusterClientBuilder::new(vec![node])
        .use_protocol(ProtocolVersion::RESP3)
        .response_timeout(RESPONSE_TIMEOUT);
    builder = match &auth {
        Auth::Streaming(p) => builder.set_credentials_provider(p.clone()),
        Auth::Static(user, token) => builder.username(user.clone()).password(token.clone()),
    };
    let client = match builder.build() {
        Ok(client) => client,
        Err(e) => return fail(&c, true, &e),
    };
    let mut conn = None;
    let mut i: u64 = 0;
    while Instant::now() < end {
        i += 1;
        let k = format!("{key}:{}", i % 300); // 300 keys: slots on every master
        let r: redis::RedisResult<()> = async {
            if conn.is_none() {
                conn = Some(client.get_async_connection().await?);
            }
            let cc = conn.as_mut().unwrap();
            let _: () = cc.set(&k, i).await?;
            let got: u64 = cc.get(&k).await?;
            if got != i {
                return Err((redis::ErrorKind::Client, "GET returned another value").into());
            }
            Ok(())
        }
        .await;
        match r {
            Ok(()) => c.lock().unwrap().cluster_ok += 2,
            Err(e) => fail(&c, true, &e),
        }
        tokio::time::sleep(Duration::from_millis(20)).await; // pacing only
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a = Arc::new(parse_args());
    let reader = Reader::open(&a.dir).unwrap_or_else(|e| {
        eprintln!("redis_e2e_client: {}: {e} ({})", a.dir, e.name());
        std::process::exit(1);
    });
    let first_generation = generation(&reader, &a.name);
    let (auth, provider) = if a.no_reauth {
        let cred = reader.read(&a.name).unwrap_or_else(|e| {
            eprintln!("redis_e2e_client: credential {:?}: {e} ({})", a.name, e.name());
            std::process::exit(1);
        });
        (Auth::Static(cred.username().into(), cred.token().into()), None)
    } else {
        let p = CredentialsProvider::builder(&a.name)
            .dir(&a.dir)
            .build()
            .expect("valid name");
        (Auth::Streaming(p.clone()), Some(p))
    };
    let counts: Shared = Arc::default();
    let end = Instant::now() + Duration::from_secs_f64(a.duration);
    let (done_tx, done_rx) = tokio::sync::watch::channel(false);
    let (sub_tx, sub_rx) = tokio::sync::oneshot::channel();

    let sub = tokio::spawn(subscriber(
        a.clone(),
        auth.clone(),
        counts.clone(),
        done_rx.clone(),
        sub_tx,
    ));
    let blpop = tokio::spawn(blpop_reader(a.clone(), auth.clone(), counts.clone(), done_rx));
    let _ = sub_rx.await; // subscribed before the first PUBLISH
    let cluster = tokio::spawn(cluster_worker(a.clone(), auth.clone(), counts.clone(), end));
    writer(a.clone(), auth, counts.clone(), end).await;
    let _ = done_tx.send(true);
    for t in [sub, blpop, cluster] {
        let _ = t.await;
    }

    let c = counts.lock().unwrap();
    let out = serde_json::json!({
        "client": "redis-rs",
        "reauth": !a.no_reauth,
        "commands_ok": c.commands_ok,
        "commands_failed": c.commands_failed,
        "first_error": c.first_error,
        "reauths": provider.as_ref().map_or(0, CredentialsProvider::reauth_pushes),
        "reconnects": c.disconnections,
        "published": c.published,
        "sub_received": c.sub_received,
        "sub_duplicates": c.sub_duplicates,
        "resubscriptions": c.subscribe_confirmations.saturating_sub(1),
        "blpop_received": c.blpop_received,
        "cluster_ok": c.cluster_ok,
        "cluster_failed": c.cluster_failed,
        "moved": 0,
        "first_generation": first_generation,
        "last_generation": generation(&reader, &a.name),
        "notes": "redis-rs 1.8.1 (tokio-comp, connection-manager, cluster-async, token-based-authentication); \
                  RESP3 everywhere; reauths = new generations the provider handed to live connections \
                  (redis-rs sends the AUTH and does not report the outcome); reconnects = disconnections \
                  the subscriber's connection saw; moved is not observable (cluster-async follows MOVED \
                  internally); response timeout 10 s",
    });
    println!("{out}");
}
