'use strict';
// The node-redis end-to-end client of tests/redis/clients.md: node-redis v5
// with the tokenwell credentialsProvider against the strict Azure Redis
// stand-in -- a writer, a RESP3 subscriber (re-AUTHed in place), a BLPOP
// reader on the single server, and a createCluster worker on the 3-master
// cluster -- for --duration seconds; one JSON line on stdout.

const { createClient, createCluster } = require('redis');
const { credentialsProvider, getCredential } = require('../../client-shim/node');

function parseArgs(argv) {
  const a = { name: 'redis', tag: 'node', reauth: true };
  const flags = { '--dir': 'dir', '--host': 'host', '--port': 'port', '--cluster-host': 'clusterHost',
    '--cluster-port': 'clusterPort', '--duration': 'duration', '--name': 'name', '--tag': 'tag' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--no-reauth') a.reauth = false;
    else if (flags[argv[i]] && i + 1 < argv.length) a[flags[argv[i]]] = argv[++i];
    else {
      process.stderr.write(`e2e_client.js: unknown argument ${argv[i]}\n`);
      process.exit(2);
    }
  }
  for (const k of ['dir', 'host', 'port', 'clusterHost', 'clusterPort', 'duration']) {
    if (a[k] === undefined) {
      process.stderr.write(`e2e_client.js: --${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is required\n`);
      process.exit(2);
    }
  }
  return a;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const counts = { commands_ok: 0, commands_failed: 0, published: 0, sub_received: 0, sub_duplicates: 0,
    resubscriptions: 0, blpop_received: 0, cluster_ok: 0, cluster_failed: 0, moved: 0, reauths: 0, reconnects: 0 };
  let firstError = '';
  const fail = (key, e) => {
    counts[key]++;
    if (!firstError) firstError = `${e?.constructor?.name}: ${e?.message ?? e}`.slice(0, 200);
  };
  const generation = () => getCredential(a.name, { dir: a.dir }).generation;
  const firstGeneration = generation();
  const provider = credentialsProvider(a.name, { dir: a.dir, onReAuthenticationError: (e) => fail('commands_failed', e) });
  let auth;
  if (a.reauth) {
    // Counts what each connection was handed after its first credential.
    auth = { credentialsProvider: { type: provider.type, onReAuthenticationError: provider.onReAuthenticationError,
      subscribe: (l) => provider.subscribe({ onNext: (c) => { counts.reauths++; l.onNext(c); }, onError: l.onError }) } };
  } else {
    const c = getCredential(a.name, { dir: a.dir });
    auth = { username: c.username || undefined, password: c.token };
  }
  const socket = { host: a.host, port: Number(a.port), reconnectStrategy: (n) => Math.min(n * 50, 500) };
  const single = () => {
    const c = createClient({ socket, RESP: 3, ...auth });
    c.on('error', () => {}); // failed commands are counted where they fail
    c.on('reconnecting', () => counts.reconnects++);
    return c;
  };
  const key = `tw-e2e-${a.tag}-key`;
  const list = `tw-e2e-${a.tag}-list`;
  const channel = `tw-e2e-${a.tag}-channel`;
  const writer = single();
  const subscriber = single();
  const reader = single();
  const cluster = createCluster({
    rootNodes: [{ socket: { host: a.clusterHost, port: Number(a.clusterPort) } }],
    defaults: { RESP: 3, ...auth, socket: { reconnectStrategy: (n) => Math.min(n * 50, 500) } },
  });
  cluster.on('error', () => {});
  await Promise.all([writer.connect(), subscriber.connect(), reader.connect(), cluster.connect()]);

  const seen = new Set();
  await subscriber.subscribe(channel, (m) => {
    if (seen.has(m)) counts.sub_duplicates++;
    else {
      seen.add(m);
      counts.sub_received++;
    }
  });
  const end = Date.now() + Number(a.duration) * 1000;
  let writerDone = false;
  const popped = new Set();

  const writerLoop = async () => {
    for (let seq = 1; Date.now() < end; seq++) {
      for (const [cmd, fn] of [['INCR', () => writer.incr(`${key}-counter`)], ['SET', () => writer.set(key, String(seq))],
        ['GET', () => writer.get(key)], ['PUBLISH', () => writer.publish(channel, String(seq))],
        ['RPUSH', () => writer.rPush(list, String(seq))]]) {
        try {
          await fn();
          counts.commands_ok++;
          if (cmd === 'PUBLISH') counts.published++;
        } catch (e) {
          fail('commands_failed', e);
        }
      }
      await sleep(20);
    }
    writerDone = true;
  };
  const drained = (n) => n >= counts.published;
  const readerLoop = async () => {
    let drainEnd = 0;
    for (;;) {
      if (writerDone) {
        drainEnd ||= Date.now() + 5000;
        if (drained(counts.blpop_received) || Date.now() > drainEnd) return;
      }
      try {
        const item = await reader.blPop(list, 1);
        counts.commands_ok++;
        if (item && !popped.has(item.element)) {
          popped.add(item.element);
          counts.blpop_received++;
        }
      } catch (e) {
        fail('commands_failed', e);
      }
    }
  };
  const clusterLoop = async () => {
    for (let i = 1; Date.now() < end; i++) {
      const k = `${key}:${i % 300}`;
      try {
        await cluster.set(k, String(i));
        if ((await cluster.get(k)) !== String(i)) throw new Error(`GET ${k} returned something else`);
        counts.cluster_ok += 2;
      } catch (e) {
        fail('cluster_failed', e);
      }
      await sleep(20);
    }
  };
  await Promise.all([writerLoop(), readerLoop(), clusterLoop()]);
  const drainEnd = Date.now() + 5000;
  while (!drained(counts.sub_received) && Date.now() < drainEnd) await sleep(50);

  const out = { client: 'node-redis', reauth: a.reauth, ...counts, first_error: firstError,
    first_generation: firstGeneration, last_generation: generation(),
    notes: 'RESP3 (the subscriber re-AUTHs in place); createCluster with the provider on every node' };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  await Promise.allSettled([writer, subscriber, reader].map((c) => c.isOpen && c.destroy()));
  await cluster.destroy?.();
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`e2e_client.js: ${e.stack}\n`);
  process.stdout.write(`${JSON.stringify({ client: 'node-redis', commands_ok: 0, commands_failed: 1,
    first_error: String(e.message).slice(0, 200) })}\n`);
  process.exit(0);
});
