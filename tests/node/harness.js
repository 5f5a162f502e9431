'use strict';
// harness.js -- real processes for the Node binding's tests: the Entra ID
// stand-in, tokenwell-agent and redis-server (strict_redis_proxy.js puts the
// Azure-like token checks in front of it). Paths come from the environment that
// tests/node/CMakeLists.txt sets (TOKENWELL_AGENT, TOKENWELL_CLI,
// TOKENWELL_STANDIN, TOKENWELL_PYTHON3, TOKENWELL_REDIS_SERVER).
//
// Every wait is on a real event (a file appearing, a process line, a
// generation published) with a generous deadline; nothing sleeps to time.

const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { promisify } = require('node:util');

const execFileP = promisify(execFile);

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through ctest: tests/node/CMakeLists.txt sets it)`);
  return v;
}

function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokenwell-node-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// Polls `check` (sync or async) until it returns a truthy value.
async function waitFor(what, check, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// A child process stopped (SIGTERM, then SIGKILL) when the test ends.
function start(t, cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let output = '';
  const keep = (d) => { output = (output + d.toString()).slice(-20000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.output = () => output;
  child.exited = exited;
  child.stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    const r = await exited;
    clearTimeout(timer);
    return r;
  };
  t.after(() => child.stop());
  return child;
}

async function startStandin(t, dir, { tokenLifetime }) {
  const stateDir = path.join(dir, 'standin');
  const p = start(t, env('TOKENWELL_PYTHON3'),
    [env('TOKENWELL_STANDIN'), '--port', '0', '--state-dir', stateDir, '--token-lifetime', String(tokenLifetime)]);
  const infoPath = path.join(stateDir, 'standin.json');
  const info = await waitFor('the Entra stand-in', () => {
    if (p.exitCode !== null) throw new Error(`stand-in exited: ${p.output()}`);
    return fs.existsSync(infoPath) && JSON.parse(fs.readFileSync(infoPath, 'utf8'));
  });
  info.process = p;
  info.admin = async (method, what, body) => {
    const res = await fetch(`${info.admin_url}/${what}`, {
      method, body: body ? JSON.stringify(body) : undefined });
    return res.json();
  };
  return info;
}

// The agent with `credentials` (config objects) in runtimeDir; resolves once
// the socket exists.
async function startAgent(t, dir, credentials) {
  const runtimeDir = path.join(dir, 'run');
  const config = path.join(dir, 'agent.json');
  fs.writeFileSync(config, JSON.stringify({
    runtime_dir: runtimeDir, listen: '127.0.0.1:0', log: { level: 'info', format: 'json' }, credentials }));
  const p = start(t, env('TOKENWELL_AGENT'), ['--config', config]);
  await waitFor('the agent socket', () => {
    if (p.exitCode !== null) throw new Error(`agent exited: ${p.output()}`);
    return fs.existsSync(path.join(runtimeDir, 'agent.sock'));
  });
  p.runtimeDir = runtimeDir;
  return p;
}

function entraCredential(standin, name = 'redis') {
  return {
    name, source: 'entra', tenant_id: standin.tenant, client_id: standin.client_id,
    authority_host: standin.base_url, ca_file: standin.ca_file,
    auth: { method: 'client_secret', secret_file: standin.files.client_secret },
    // Refresh at 60 % of the life: short test tokens still leave seconds of
    // margin for a re-AUTH on a loaded CI machine.
    refresh: { ratio: 0.6, retry_min: '1s', retry_max: '2s' },
  };
}

// The C reader's view (the `tokenwell` CLI), independent of the binding under test.
async function cliGet(runtimeDir, name) {
  const { stdout } = await execFileP(env('TOKENWELL_CLI'), ['--dir', runtimeDir, 'get', name, '--json']);
  return JSON.parse(stdout);
}

async function startRedis(t, dir) {
  const sock = path.join(dir, 'redis.sock');
  const p = start(t, env('TOKENWELL_REDIS_SERVER'),
    ['--port', '0', '--unixsocket', sock, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no',
      '--dir', dir]);
  await waitFor('redis-server', () => {
    if (p.exitCode !== null) throw new Error(`redis-server exited: ${p.output()}`);
    return fs.existsSync(sock);
  });
  return { process: p, socket: sock };
}

module.exports = {
  env, tempDir, waitFor, start, startStandin, startAgent, entraCredential, cliGet, startRedis,
};
