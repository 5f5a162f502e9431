'use strict';
// getCredential and the provider against real segments: written by the real
// agent (a `file` source), and hand-made ones for what a healthy agent never
// writes. Each case says what a reader must do (docs/segment-format.md).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('./harness');
const { writeSegment } = require('./segment_writer');
const tokenwell = require('../../client-shim/node');
const { Segment } = require('../../client-shim/node/lib/segment');

const { getCredential, credentialsProvider } = tokenwell;
const code = (c) => (e) => e instanceof tokenwell.TokenwellError && e.code === c;

function writeSecret(file, value) {
  fs.writeFileSync(`${file}.tmp`, value);
  fs.renameSync(`${file}.tmp`, file); // atomic, as a secret operator would
}

async function agentWithFile(t) {
  const dir = h.tempDir(t);
  const secret = path.join(dir, 'secrets', 'legacy');
  fs.mkdirSync(path.dirname(secret));
  writeSecret(secret, 'password-one');
  const agent = await h.startAgent(t, dir,
    [{ name: 'legacy', source: 'file', path: secret, username: 'app-user' }]);
  await h.waitFor('the first value', () => h.cliGet(agent.runtimeDir, 'legacy').catch(() => null));
  return { dir, secret, runtimeDir: agent.runtimeDir, agent };
}

test('reads what the agent published, the same as the C reader', async (t) => {
  const { runtimeDir } = await agentWithFile(t);
  const c = getCredential('legacy', { dir: runtimeDir });
  assert.equal(c.username, 'app-user');
  assert.equal(c.token, 'password-one');
  assert.equal(c.expiresAt, 0);
  assert.ok(c.generation >= 1);
  const cli = await h.cliGet(runtimeDir, 'legacy');
  assert.deepEqual([cli.username, cli.token, cli.expires_at, cli.generation],
    [c.username, c.token, c.expiresAt, c.generation]);
  assert.deepEqual(Object.keys(c).sort(), ['expiresAt', 'generation', 'token', 'username']);
});

test('the directory comes from options.dir, else $TOKENWELL_DIR', async (t) => {
  const { runtimeDir } = await agentWithFile(t);
  const saved = process.env.TOKENWELL_DIR;
  t.after(() => { if (saved === undefined) delete process.env.TOKENWELL_DIR; else process.env.TOKENWELL_DIR = saved; });
  process.env.TOKENWELL_DIR = runtimeDir;
  assert.equal(getCredential('legacy').token, 'password-one');
  assert.throws(() => getCredential('legacy', { dir: path.join(runtimeDir, 'nope') }), code('EUNAVAILABLE'));
});

test('a rotated secret is a new generation, pushed to subscribers', async (t) => {
  const { runtimeDir, secret } = await agentWithFile(t);
  const before = getCredential('legacy', { dir: runtimeDir });
  const provider = credentialsProvider('legacy', { dir: runtimeDir });
  let next;
  const pushed = new Promise((resolve) => { next = resolve; });
  const [initial, subscription] = await provider.subscribe({ onNext: next, onError: assert.fail });
  t.after(() => subscription.dispose());
  assert.deepEqual(initial, { username: 'app-user', password: 'password-one' });

  writeSecret(secret, 'password-two');
  assert.deepEqual(await pushed, { username: 'app-user', password: 'password-two' });
  const after = getCredential('legacy', { dir: runtimeDir });
  assert.equal(after.token, 'password-two');
  assert.ok(after.generation > before.generation);
});

test('the provider is a node-redis StreamingCredentialsProvider', () => {
  const p = credentialsProvider('redis', { dir: '/nonexistent' });
  assert.equal(p.type, 'streaming-credentials-provider');
  assert.equal(typeof p.subscribe, 'function');
  assert.equal(typeof p.onReAuthenticationError, 'function');
});

test('subscribe gives up after timeoutSeconds with the reason', async () => {
  const p = credentialsProvider('redis', { dir: '/nonexistent/tokenwell', timeoutSeconds: 1 });
  await assert.rejects(p.subscribe({ onNext() {}, onError() {} }),
    (e) => e.code === 'ETIMEOUT' && /within 1 s: cannot open \/nonexistent\/tokenwell\/segment/.test(e.message));
});

test('bad arguments are EINVAL, naming what is wrong', () => {
  assert.throws(() => getCredential('', { dir: '/tmp' }), (e) => e.code === 'EINVAL' && /1-64 bytes/.test(e.message));
  assert.throws(() => getCredential('x'.repeat(65), { dir: '/tmp' }), code('EINVAL'));
  assert.throws(() => getCredential(42, { dir: '/tmp' }), (e) => e.code === 'EINVAL' && /string/.test(e.message));
  assert.throws(() => getCredential('a', { dir: '' }), (e) => e.code === 'EINVAL' && /options.dir/.test(e.message));
  assert.throws(() => credentialsProvider('a', { waitSeconds: 0 }), (e) => /waitSeconds/.test(e.message));
  assert.throws(() => credentialsProvider('a', { onReAuthenticationError: 'x' }), code('EINVAL'));
});

test('unknown names are ENOTFOUND; keysets are not credentials', (t) => {
  const dir = h.tempDir(t);
  writeSegment(path.join(dir, 'segment'), [
    { name: 'redis', username: 'u', secret: 's', generation: 1 },
    { name: 'keys', secret: 'private', generation: 2, kind: 2 }]);
  assert.throws(() => getCredential('nope', { dir }), (e) => e.code === 'ENOTFOUND' && /"nope"/.test(e.message));
  assert.throws(() => getCredential('keys', { dir }), (e) => e.code === 'ENOTFOUND' && /keyset/.test(e.message));
  assert.equal(getCredential('redis', { dir }).token, 's');
});

test('an expired or not yet fetched value is ENOVALUE and never handed out', (t) => {
  const dir = h.tempDir(t);
  const now = Math.floor(Date.now() / 1000);
  writeSegment(path.join(dir, 'segment'), [
    { name: 'expired', username: 'u', secret: 'old-token', generation: 3, expiresAt: now - 1 },
    { name: 'pending', generation: 4, hasValue: false },
    { name: 'live', username: 'u', secret: 'new-token', generation: 5, expiresAt: now + 600 }]);
  assert.throws(() => getCredential('expired', { dir }),
    (e) => e.code === 'ENOVALUE' && /expired at/.test(e.message) && !e.message.includes('old-token'));
  assert.throws(() => getCredential('pending', { dir }), (e) => e.code === 'ENOVALUE' && /not been fetched/.test(e.message));
  assert.deepEqual(getCredential('live', { dir }),
    { username: 'u', token: 'new-token', expiresAt: now + 600, generation: 5 });
});

test('corrupt and foreign files are EFORMAT; a newer ABI is EVERSION', (t) => {
  const dir = h.tempDir(t);
  const seg = path.join(dir, 'segment');
  const entry = { name: 'redis', username: 'u', secret: 's', generation: 1 };
  const cases = [
    ['wrong magic', () => fs.writeFileSync(seg, Buffer.alloc(4096, 0x41)), 'EFORMAT', /wrong magic/],
    ['short file', () => fs.writeFileSync(seg, Buffer.alloc(16)), 'EFORMAT', /less than the 128-byte header/],
    ['truncated slots', () => { writeSegment(seg, [entry]); fs.truncateSync(seg, 600); }, 'EFORMAT', /do not fit/],
    ['lengths past the copy', () => writeSegment(seg, [{ ...entry, secretLen: 1 << 20 }]), 'EFORMAT', /lengths/],
    ['newer ABI', () => writeSegment(seg, [entry], { compat: 2 }), 'EVERSION', /ABI 2/],
  ];
  for (const [what, make, expected, message] of cases) {
    make();
    // A fresh directory key each time: one open segment is cached per dir.
    const alias = path.join(dir, `alias-${expected}-${what.replace(/ /g, '-')}`);
    fs.mkdirSync(alias);
    fs.copyFileSync(seg, path.join(alias, 'segment'));
    assert.throws(() => getCredential('redis', { dir: alias }),
      (e) => e.code === expected && message.test(e.message), what);
  }
});

test('a segment renamed over the open one (REPLACED) is reopened', (t) => {
  const dir = h.tempDir(t);
  const seg = path.join(dir, 'segment');
  writeSegment(seg, [{ name: 'redis', username: 'u', secret: 'first', generation: 1 }]);
  assert.equal(getCredential('redis', { dir }).token, 'first');
  const old = fs.openSync(seg, 'r+'); // the agent's handle on the old file
  writeSegment(`${seg}.tmp`, [{ name: 'other', generation: 2 },
    { name: 'redis', username: 'u', secret: 'second', generation: 3 }]);
  fs.renameSync(`${seg}.tmp`, seg);
  assert.equal(getCredential('redis', { dir }).token, 'first', 'the old file is still valid until REPLACED');
  fs.writeSync(old, Buffer.from([1, 0, 0, 0]), 0, 4, 32); // flags |= REPLACED
  fs.closeSync(old);
  assert.deepEqual(getCredential('redis', { dir }), { username: 'u', token: 'second', expiresAt: 0, generation: 3 });
});

test('mutated segments give a value or a TokenwellError, never anything else', (t) => {
  // On tmpfs, like a real segment: 1,000 files written to disk would be slow.
  const dir = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'tokenwell-mut-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { segmentBytes } = require('./segment_writer');
  const good = segmentBytes([{ name: 'redis', username: 'u', secret: 'token', generation: 7 },
    { name: 'other', username: 'v', secret: 'x'.repeat(100), generation: 8 }]);
  let seed = 12345;
  const rand = (n) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const outcomes = { value: 0, error: 0 };
  for (let i = 0; i < 1000; i++) {
    const bytes = Buffer.from(good);
    for (let k = 1 + rand(4); k > 0; k--) {
      // Mostly the header and the first slot's headers, where the lengths are.
      const at = rand(3) === 0 ? rand(bytes.length) : rand(128 + 64 + 64);
      bytes[at] = rand(3) === 0 ? 0xff : rand(256);
    }
    fs.writeFileSync(path.join(dir, 'segment'), rand(10) === 0 ? bytes.subarray(0, rand(bytes.length)) : bytes);
    const segment = new Segment(dir); // the reader under getCredential, without its per-dir cache
    try {
      const v = segment.read('redis');
      assert.equal(typeof v.secret, 'string');
      outcomes.value++;
    } catch (e) {
      assert.ok(e instanceof tokenwell.TokenwellError, `mutation ${i}: ${e.stack}`);
      outcomes.error++;
    } finally {
      segment.close();
    }
  }
  assert.ok(outcomes.value > 0 && outcomes.error > 0, JSON.stringify(outcomes));
});

test('a subscriber keeps its token through an agent restart and gets the next one', async (t) => {
  const { dir, runtimeDir, secret, agent } = await agentWithFile(t);
  const pushed = [];
  let wake;
  const provider = credentialsProvider('legacy', { dir: runtimeDir });
  const [initial, subscription] = await provider.subscribe({
    onNext: (c) => { pushed.push(c.password); wake?.(); }, onError: assert.fail });
  t.after(() => subscription.dispose());
  assert.equal(initial.password, 'password-one');

  assert.equal((await agent.stop()).code, 0);
  // No agent: the segment still serves the last value.
  assert.equal(getCredential('legacy', { dir: runtimeDir }).token, 'password-one');
  writeSecret(secret, 'password-two');
  const next = new Promise((resolve) => { wake = resolve; });
  await h.startAgent(t, dir, [{ name: 'legacy', source: 'file', path: secret, username: 'app-user' }]);
  await next;
  assert.deepEqual(pushed, ['password-two']);
});

test('an expired token nobody replaced is reported once; the next one still flows (no agent socket)', async (t) => {
  const dir = h.tempDir(t);
  const seg = path.join(dir, 'segment');
  const soon = Math.floor(Date.now() / 1000) + 2;
  writeSegment(seg, [{ name: 'redis', username: 'u', secret: 'short-lived', generation: 1, expiresAt: soon }]);
  // The provider's watch never keeps a process alive (an app's Redis socket
  // does); stand in for that socket.
  const app = setInterval(() => {}, 1000);
  t.after(() => clearInterval(app));
  const reported = [];
  let wake;
  const provider = credentialsProvider('redis', { dir, onReAuthenticationError: (e) => { reported.push(e); wake?.(); } });
  const pushed = [];
  const [initial, subscription] = await provider.subscribe({
    onNext: (c) => { pushed.push(c.password); wake?.(); }, onError: assert.fail });
  t.after(() => subscription.dispose());
  assert.equal(initial.password, 'short-lived');

  await new Promise((resolve) => { wake = resolve; });
  assert.equal(reported.length, 1);
  assert.equal(reported[0].code, 'ENOVALUE');
  assert.ok(!reported[0].message.includes('short-lived'));
  // The agent (here: a new file renamed over, flagged REPLACED) publishes again.
  const old = fs.openSync(seg, 'r+');
  writeSegment(`${seg}.tmp`, [{ name: 'redis', username: 'u', secret: 'fresh', generation: 2,
    expiresAt: Math.floor(Date.now() / 1000) + 600 }]);
  fs.renameSync(`${seg}.tmp`, seg);
  const next = new Promise((resolve) => { wake = resolve; });
  fs.writeSync(old, Buffer.from([1, 0, 0, 0]), 0, 4, 32);
  fs.closeSync(old);
  await next;
  assert.deepEqual(pushed, ['fresh']);
  assert.equal(reported.length, 1);
});
