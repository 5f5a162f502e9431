'use strict';
// The provider's re-AUTH against a real redis-server, with credentials
// published by the agent's real SegmentWriter (tests/vectors/segment_writer_tool):
//   - a credential without a username is a password-only AUTH as `default`
//     (RESP2 `AUTH token`, RESP3 `HELLO 3 AUTH default token`), never `AUTH "" token`;
//   - a generation whose re-AUTH failed (WRONGPASS: the segment had the token
//     before Redis knew it) is re-delivered with a short backoff until Redis
//     takes it, without waiting for the next rotation.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const readline = require('node:readline');
const { spawn } = require('node:child_process');
const { createClient } = require('redis');
const h = require('./harness');
const { credentialsProvider } = require('../../client-shim/node');

const FAR = 4102444800;

// tests/vectors/segment_writer_tool over dir (protocol in tests/vectors/README.md).
function startWriter(t, dir) {
  const child = spawn(h.env('TOKENWELL_SEGMENT_WRITER_TOOL'), [dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  t.after(() => child.stdin.end());
  return {
    async cmd(line) {
      child.stdin.write(`${line}\n`);
      const { value } = await lines.next();
      assert.match(value, /^ok( |$)/, `${line} -> ${value}`);
      return value.slice(3);
    },
    publish(name, username, secret) { return this.cmd(`publish ${name} ${username || '-'} ${secret} ${FAR}`); },
  };
}

async function setup(t) {
  const dir = h.tempDir(t);
  const redis = await h.startRedis(t, dir);
  const admin = createClient({ socket: { path: redis.socket } });
  await admin.connect();
  const clients = [admin];
  const writer = startWriter(t, dir);
  const connect = async (provider, RESP) => {
    const c = createClient({ socket: { path: redis.socket, reconnectStrategy: false }, RESP,
      credentialsProvider: provider });
    c.on('error', () => {});
    await c.connect();
    clients.push(c);
    return c;
  };
  // Clients closed before the test's after-hooks stop redis-server (they run first to last).
  const close = () => clients.forEach((c) => c.isOpen && c.destroy());
  return { dir, admin, writer, connect, close };
}

test('a credential without a username authenticates as default (RESP2 and RESP3)', async (t) => {
  const { dir, admin, writer, connect, close } = await setup(t);
  await admin.sendCommand(['ACL', 'SETUSER', 'default', 'resetpass', '>pw-1']);
  await writer.publish('redis', '', 'pw-1');
  const provider = credentialsProvider('redis', { dir, onReAuthenticationError: () => {} });
  for (const RESP of [2, 3]) {
    const c = await connect(provider, RESP);
    assert.equal(await c.sendCommand(['ACL', 'WHOAMI']), 'default', `RESP${RESP}`);
  }
  close();
});

test('a generation whose re-AUTH failed is retried until Redis takes it', async (t) => {
  const { dir, admin, writer, connect, close } = await setup(t);
  await admin.sendCommand(['ACL', 'SETUSER', 'u1', 'on', '>p1', '~*', '&*', '+@all']);
  await writer.publish('redis', 'u1', 'p1');
  const failures = [];
  const provider = credentialsProvider('redis', { dir, onReAuthenticationError: (e) => failures.push(e.message) });
  const c = await connect(provider, 3);
  assert.equal(await c.sendCommand(['ACL', 'WHOAMI']), 'u1');
  await writer.publish('redis', 'u2', 'p2'); // Redis does not know u2 yet: WRONGPASS
  await h.waitFor('the refused re-AUTH', () => failures.length > 0);
  await admin.sendCommand(['ACL', 'SETUSER', 'u2', 'on', '>p2', '~*', '&*', '+@all']);
  await h.waitFor('the retried re-AUTH', async () => (await c.sendCommand(['ACL', 'WHOAMI'])) === 'u2');
  assert.ok(provider.reauthRetries >= 1);
  assert.match(failures[0], /WRONGPASS|invalid username-password/);
  close();
});
