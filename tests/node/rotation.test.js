'use strict';
// node-redis v5 + credentialsProvider through several token rotations against
// a strict Redis (strict_redis_proxy.js over a real redis-server: only live
// tokens the Entra stand-in signed, connections closed when their token
// expires): a command loop, a pub/sub subscriber and a BLPOP reader, zero
// failed commands. A control connection that never re-AUTHs is closed by the
// proxy, so the test would fail if re-AUTH did not happen.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { createClient } = require('redis');
const h = require('./harness');
const { startStrictProxy } = require('./strict_redis_proxy');
const { credentialsProvider, getCredential } = require('../../client-shim/node');

const TOKEN_LIFETIME = 10; // seconds; the agent refreshes at ~60% (harness.js)
const ROTATIONS = 3;

test(`node-redis stays authenticated through ${ROTATIONS} rotations with zero failed commands`, async (t) => {
  const dir = h.tempDir(t);
  const standin = await h.startStandin(t, dir, { tokenLifetime: TOKEN_LIFETIME });
  const agent = await h.startAgent(t, dir, [h.entraCredential(standin)]);
  const redis = await h.startRedis(t, dir);
  const proxy = await startStrictProxy({
    listen: path.join(dir, 'strict.sock'), upstream: redis.socket, ca: standin.ca_file,
    jwksUrl: `${standin.base_url}${standin.tenant}/discovery/v2.0/keys` });
  t.after(() => proxy.close());

  const failures = [];
  const provider = credentialsProvider('redis', {
    dir: agent.runtimeDir, onReAuthenticationError: (e) => failures.push(`re-auth: ${e.message}`) });
  // One provider for every connection; this wrapper only counts what each
  // connection was handed (one re-AUTH per credential after the first).
  const reauths = {};
  const counting = (label) => ({
    type: provider.type,
    onReAuthenticationError: provider.onReAuthenticationError,
    subscribe: (listener) => provider.subscribe({
      onNext: (c) => { reauths[label] = (reauths[label] ?? 0) + 1; listener.onNext(c); },
      onError: listener.onError,
    }),
  });
  const connect = async (label, auth) => {
    const c = createClient({ socket: { path: path.join(dir, 'strict.sock'), reconnectStrategy: false }, RESP: 3,
      ...auth });
    c.on('error', (e) => (label === 'control' ? null : failures.push(`${label}: ${e.message}`)));
    await c.connect();
    t.after(() => c.isOpen && c.destroy());
    return c;
  };

  await h.waitFor('a first token', () => h.cliGet(agent.runtimeDir, 'redis').catch(() => null));
  const initial = getCredential('redis', { dir: agent.runtimeDir });
  assert.equal(initial.username, standin.oid);
  const commands = await connect('commands', { credentialsProvider: counting('commands') });
  const subscriber = await connect('subscriber', { credentialsProvider: counting('subscriber') });
  const reader = await connect('blpop', { credentialsProvider: counting('blpop') });
  // The control: the same token, given once, never renewed.
  const control = await connect('control', { username: initial.username, password: initial.token });
  assert.equal(await control.ping(), 'PONG');

  const seen = { commands: 0, messages: [], popped: [] };
  await subscriber.subscribe('ticks', (m) => seen.messages.push(Number(m)));
  let running = true;
  const commandLoop = (async () => {
    for (let i = 1; running; i++) {
      try {
        await commands.incr('counter');
        await commands.set('last', String(i));
        assert.equal(await commands.get('last'), String(i));
        await commands.publish('ticks', String(i));
        await commands.rPush('queue', String(i));
        seen.commands += 5;
      } catch (e) {
        failures.push(`commands: ${e.message}`);
      }
      await new Promise((r) => setTimeout(r, 20)); // paces the load; nothing waits on it
    }
  })();
  const readerLoop = (async () => {
    while (running) {
      try {
        // A short block, so a re-AUTH queued behind it goes out within a second.
        const r = await reader.blPop('queue', 1);
        if (r) seen.popped.push(Number(r.element));
      } catch (e) {
        failures.push(`blpop: ${e.message}`);
      }
    }
  })();

  const labels = ['commands', 'subscriber', 'blpop'];
  await h.waitFor(`${ROTATIONS} re-AUTHs on every connection`,
    () => labels.every((l) => (reauths[l] ?? 0) >= ROTATIONS), TOKEN_LIFETIME * (ROTATIONS + 2) * 1000);
  assert.ok(getCredential('redis', { dir: agent.runtimeDir }).generation >= initial.generation + ROTATIONS);
  // Traffic after the last rotation, on every connection.
  const mark = { commands: seen.commands, messages: seen.messages.length, popped: seen.popped.length };
  await h.waitFor('traffic after the last rotation', () => seen.commands > mark.commands + 20 &&
    seen.messages.length > mark.messages + 5 && seen.popped.length > mark.popped + 5);
  running = false;
  await Promise.all([commandLoop, readerLoop]);

  assert.deepEqual(failures, []);
  assert.ok(seen.messages.length > 100, `only ${seen.messages.length} pub/sub messages`);
  assert.ok(seen.popped.length > 100, `only ${seen.popped.length} BLPOPs`);
  assert.ok(proxy.stats.authOk >= 1 + labels.length * (1 + ROTATIONS), JSON.stringify(proxy.stats));
  assert.equal(proxy.stats.authRejected, 0);
  // The proxy is strict: the control connection was closed when its token
  // expired, and that token is refused now.
  assert.equal(proxy.stats.expiredKills, 1);
  assert.equal(control.isOpen, false);
  const probe = createClient({ socket: { path: path.join(dir, 'strict.sock'), reconnectStrategy: false } });
  probe.on('error', () => {});
  await probe.connect(); // RESP2: nothing sent before AUTH
  t.after(() => probe.isOpen && probe.destroy());
  await assert.rejects(probe.auth({ username: initial.username, password: initial.token }), /WRONGPASS/);
  const now = getCredential('redis', { dir: agent.runtimeDir });
  assert.equal(await probe.auth({ username: now.username, password: now.token }), 'OK');
});
