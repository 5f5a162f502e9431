'use strict';
// compare.js -- tokenwell vs @redis/entraid, side by side in one run (run.sh
// builds and installs what it needs, then runs this). Against one Entra
// stand-in issuing short-lived tokens and one strict Redis (real redis-server
// behind tests/node/strict_redis_proxy.js: live tokens only, connections
// closed when their token expires):
//   "pod" A: one tokenwell-agent + N Node processes using the tokenwell binding
//   "pod" B: N Node processes, each node-redis + @redis/entraid (own MSAL client)
// Each side has its own app registration in the stand-in, so the stand-in's
// request log attributes every IdP request. Phases:
//   steady    IdP requests (extrapolated to an hour) and RSS
//   outage    the IdP refuses connections for longer than a token lives
//   recovery  the IdP is back: who recovers, and how fast
// Prints a Markdown report (docs/benchmarks-anchor.md holds one).
//
//   node compare.js --agent PATH [--clients 8] [--lifetime 20] [--steady 60]
//                   [--outage 110] [--recovery 45] [--retry-max SECONDS]
//                   [--go-client PATH | --python-client PYTHON]
// --retry-max sets the agent's refresh.retry_max (default: the agent's, 60 s).
// One harness, one client program per language, each speaking client.js's
// JSON lines: --go-client runs the Go side instead (bench/anchor/go: go-redis
// with the Go binding vs go-redis + go-redis-entraid), --python-client the
// Python side (bench/anchor/python/client.py run by PYTHON, a venv with
// redis-py and redis-entraid: tokenwell.redis vs redis-entraid), same phases,
// same report.

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { startStrictProxy } = require('../../tests/node/strict_redis_proxy');

const root = path.resolve(__dirname, '../..');
const opts = { clients: 8, lifetime: 20, steady: 60, outage: 110, recovery: 45, 'retry-max': 0, agent: '', 'go-client': '',
  'python-client': '' };
const pathOptions = ['agent', 'go-client', 'python-client'];
for (let i = 2; i < process.argv.length; i += 2) {
  const key = process.argv[i].replace(/^--/, '');
  if (!(key in opts) || process.argv[i + 1] === undefined) {
    console.error(`compare: unknown or incomplete option ${process.argv[i]}`);
    process.exit(2);
  }
  opts[key] = pathOptions.includes(key) ? process.argv[i + 1] : Number(process.argv[i + 1]);
}
if (!opts.agent) { console.error('compare: --agent PATH is required'); process.exit(2); }
if (opts['go-client'] && opts['python-client']) { console.error('compare: one of --go-client, --python-client'); process.exit(2); }
// Per language: the client program (argv for a MODE, tokenwell or entraid), the
// anchor side's library and how its clients count IdP calls and failures.
const anchors = {
  node: { name: '@redis/entraid', client: 'Node', idpCalls: 'MSAL calls counted in the clients',
    command: (mode) => [process.execPath, [path.join(__dirname, 'client.js'), mode]],
    authErrors: 'onReAuthenticationError', retries: (n) => `${n} retries by the token managers` },
  go: { name: 'go-redis-entraid', client: 'Go', idpCalls: 'HTTP requests of azidentity counted in the clients',
    command: (mode) => [opts['go-client'], [mode]],
    authErrors: 'AUTH/HELLO refused', retries: () => 'the token managers\' own retries are not visible from outside' },
  python: { name: 'redis-entraid', client: 'Python',
    idpCalls: 'HTTP requests of azure-identity counted in the clients, azure-core\'s retries included',
    command: (mode) => [opts['python-client'], [path.join(__dirname, 'python/client.py'), mode]],
    authErrors: 'renewals the token managers ended in on_error (none scheduled after one)',
    retries: (n) => `${n} failed get_token calls` },
};
const anchor = anchors[opts['go-client'] ? 'go' : opts['python-client'] ? 'python' : 'node'];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);
const children = [];
function start(cmd, args, env = {}) {
  const c = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  c.stderrText = '';
  c.stderr.on('data', (d) => { c.stderrText = (c.stderrText + d).slice(-4000); });
  children.push(c);
  return c;
}
async function waitFor(what, check, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    try { const v = await check(); if (v) return v; } catch { /* not yet */ }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
});
const rssKb = (pid) => {
  try { return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]); } catch { return 0; }
};

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tokenwell-anchor-'));
  const tenant = '72f988bf-86f1-41af-91ab-2d7cd011db47';
  const apps = {
    tokenwell: { client_id: crypto.randomUUID(), oid: crypto.randomUUID(), secret: `tw~${crypto.randomBytes(18).toString('base64url')}` },
    entraid: { client_id: crypto.randomUUID(), oid: crypto.randomUUID(), secret: `ei~${crypto.randomBytes(18).toString('base64url')}` },
  };
  for (const [name, a] of Object.entries(apps)) fs.writeFileSync(path.join(work, `${name}.secret`), a.secret, { mode: 0o600 });
  fs.writeFileSync(path.join(work, 'standin-config.json'), JSON.stringify({
    tenants: [tenant], token_lifetime: opts.lifetime,
    clients: Object.values(apps).map((a) => ({ client_id: a.client_id, tenant, oid: a.oid, secrets: [a.secret] })) }));

  log(`stand-in: ${opts.lifetime}-second tokens`);
  start(path.join(root, 'build/venv/test/bin/python'), [path.join(root, 'tests/fakes/entra_standin.py'), '--port', '0', '--state-dir', path.join(work, 'standin'),
    '--config', path.join(work, 'standin-config.json'), '--token-lifetime', String(opts.lifetime)]);
  const standinJson = path.join(work, 'standin', 'standin.json');
  const s = await waitFor('the stand-in', () => JSON.parse(fs.readFileSync(standinJson, 'utf8')));
  const admin = async (method, what, body) =>
    (await fetch(`${s.admin_url}/${what}`, { method, body: body && JSON.stringify(body) })).json();

  const redisSock = path.join(work, 'redis.sock');
  start('redis-server', ['--port', '0', '--unixsocket', redisSock, '--save', '', '--appendonly', 'no', '--dir', work]);
  await waitFor('redis-server', () => fs.existsSync(redisSock));
  const strictSock = path.join(work, 'strict.sock');
  const proxy = await startStrictProxy({ listen: strictSock, upstream: redisSock, ca: s.ca_file,
    jwksUrl: `${s.base_url}${tenant}/discovery/v2.0/keys` });

  const metricsPort = await freePort();
  const runtimeDir = path.join(work, 'run');
  fs.writeFileSync(path.join(work, 'agent.json'), JSON.stringify({
    runtime_dir: runtimeDir, listen: `127.0.0.1:${metricsPort}`, log: { level: 'warn', format: 'json' },
    credentials: [{ name: 'redis', source: 'entra', tenant_id: tenant, client_id: apps.tokenwell.client_id,
      authority_host: s.base_url, ca_file: s.ca_file,
      auth: { method: 'client_secret', secret_file: path.join(work, 'tokenwell.secret') },
      ...(opts['retry-max'] ? { refresh: { retry_max: opts['retry-max'] } } : {}) }] }));
  const agent = start(opts.agent, ['--config', path.join(work, 'agent.json')]);
  const { getCredential } = require('../../client-shim/node');
  await waitFor('the agent\'s first token', () => getCredential('redis', { dir: runtimeDir }));
  const scrape = async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const sum = (re) => text.split('\n').filter((l) => re.test(l)).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
    return { idpRequests: sum(/^tokenwell_idp_requests_total\{/), refreshFailures: sum(/^tokenwell_credential_refresh_total\{.*result="failure"/) };
  };

  log(`${opts.clients} tokenwell clients + ${opts.clients} ${anchor.name} clients`);
  const clients = [];
  for (const mode of ['tokenwell', 'entraid']) {
    for (let i = 0; i < opts.clients; i++) {
      const [cmd, args] = anchor.command(mode);
      const c = start(cmd, args, {
        REDIS_SOCKET: strictSock, TOKENWELL_DIR: runtimeDir, STANDIN_JSON: standinJson, NODE_EXTRA_CA_CERTS: s.ca_file,
        SSL_CERT_FILE: s.ca_file, REQUESTS_CA_BUNDLE: s.ca_file,
        ENTRAID_CLIENT_ID: apps.entraid.client_id, ENTRAID_SECRET_FILE: path.join(work, 'entraid.secret') });
      c.mode = mode;
      c.state = { ok: 0, failed: 0, errors: {}, authErrors: 0, retryable: 0, reconnects: 0 };
      let buf = '';
      c.stdout.on('data', (d) => {
        buf += d;
        const lines = buf.split('\n');
        buf = lines.pop();
        for (const l of lines) { try { c.state = JSON.parse(l); } catch { /* partial */ } }
      });
      clients.push(c);
    }
  }
  // A client that could not start (it printed `fatal`) is a result, not a harness failure.
  await waitFor('every client issuing commands (or failing to start)',
    () => clients.every((c) => c.state.ok > 0 || c.state.fatal), 60000).catch((e) => {
    for (const c of clients.filter((x) => !(x.state.ok > 0))) log(`${c.mode} client: ${JSON.stringify(c.state)} ${c.stderrText}`);
    throw e;
  });

  const group = (mode) => clients.filter((c) => c.mode === mode);
  const totals = (mode) => group(mode).reduce((t, c) => ({
    ok: t.ok + (c.state.ok ?? 0), failed: t.failed + (c.state.failed ?? 0), authErrors: t.authErrors + (c.state.authErrors ?? 0),
    retryable: t.retryable + (c.state.retryable ?? 0), reconnects: t.reconnects + (c.state.reconnects ?? 0),
    idpCalls: t.idpCalls + (c.state.idpCalls ?? 0),
    fatal: t.fatal + (c.state.fatal ? 1 : 0) }), { ok: 0, failed: 0, authErrors: 0, retryable: 0, reconnects: 0, idpCalls: 0, fatal: 0 });
  const tokenRequests = async () => {
    const reqs = await admin('GET', 'requests');
    const by = { tokenwell: 0, entraid: 0 };
    for (const r of reqs) {
      if (r.target !== 'token') continue;
      if (r.client_id === apps.tokenwell.client_id) by.tokenwell++;
      if (r.client_id === apps.entraid.client_id) by.entraid++;
    }
    return by;
  };
  // Samples per group every second: cumulative totals and RSS.
  const samples = [];
  const sample = (phase) => samples.push({ t: Date.now(), phase, tokenwell: totals('tokenwell'), entraid: totals('entraid'),
    rss: { agent: rssKb(agent.pid), tokenwell: group('tokenwell').reduce((n, c) => n + rssKb(c.pid), 0),
      entraid: group('entraid').reduce((n, c) => n + rssKb(c.pid), 0) } });
  const run = async (phase, seconds) => {
    for (let i = 0; i < seconds; i++) { await sleep(1000); sample(phase); }
  };

  // ---- steady
  log(`steady: ${opts.steady} s`);
  await admin('DELETE', 'requests');
  const steady0 = { tokenwell: totals('tokenwell'), entraid: totals('entraid') };
  sample('steady');
  await run('steady', opts.steady);
  const steadyReqs = await tokenRequests();
  const steadyEnd = { tokenwell: totals('tokenwell'), entraid: totals('entraid') };

  // ---- outage
  log(`outage: the IdP refuses connections for ${opts.outage} s`);
  const m0 = await scrape();
  const outage0 = { tokenwell: totals('tokenwell'), entraid: totals('entraid') };
  const outageStart = Date.now();
  await admin('POST', 'fault', { mode: 'down' });
  await run('outage', opts.outage);
  const m1 = await scrape();
  const outageEnd = { tokenwell: totals('tokenwell'), entraid: totals('entraid') };

  // ---- recovery
  log(`recovery: the IdP is back, ${opts.recovery} s`);
  await admin('DELETE', 'requests');
  await admin('POST', 'fault', { mode: 'up' });
  const recoveryStart = Date.now();
  await run('recovery', opts.recovery);
  const recoveryReqs = await tokenRequests();
  const end = { tokenwell: totals('tokenwell'), entraid: totals('entraid') };
  // Per client: working at the end (ok rising, no failure) in the last 10 s?
  const last = samples.filter((x) => x.phase === 'recovery');
  const tail = last.slice(-10);

  const firstFailure = (mode, from, phase) => {
    const base = samples.find((x) => x.t >= from)?.[mode].failed ?? 0;
    const hit = samples.find((x) => x.t >= from && x.phase === phase && x[mode].failed > base);
    return hit ? Math.round((hit.t - from) / 1000) : null;
  };
  const recoveredAfter = (mode) => {
    // first second from which failures stop rising for good (to the end)
    const rec = samples.filter((x) => x.phase === 'recovery');
    for (let i = 0; i < rec.length; i++) {
      if (rec.slice(i).every((x, k, a) => k === 0 || x[mode].failed === a[0][mode].failed) &&
          rec[rec.length - 1][mode].ok > rec[i][mode].ok) return Math.round((rec[i].t - recoveryStart) / 1000);
    }
    return null;
  };
  // First second after the IdP returned in which a side completed at least half its steady rate of
  // commands: "no more failures" alone flatters a client that waits for its token instead of failing.
  const workingAgainAfter = (mode) => {
    const st = samples.filter((x) => x.phase === 'steady');
    const halfRate = (st[st.length - 1][mode].ok - st[0][mode].ok) / ((st[st.length - 1].t - st[0].t) / 1000) / 2;
    const from = samples.filter((x) => x.t < recoveryStart).pop();
    const rec = [from, ...samples.filter((x) => x.phase === 'recovery')];
    for (let i = 1; i < rec.length; i++) {
      if ((rec[i][mode].ok - rec[i - 1][mode].ok) / ((rec[i].t - rec[i - 1].t) / 1000) >= halfRate) {
        return Math.round((rec[i].t - recoveryStart) / 1000);
      }
    }
    return null;
  };
  // Last second of the outage in which a side still completed a command (its last token's expiry,
  // seen from the clients); "first failure" comes later for a client whose commands block.
  const lastOkAfter = (mode) => {
    const out = samples.filter((x) => x.phase === 'outage');
    let last = null;
    for (let i = 1; i < out.length; i++) if (out[i][mode].ok > out[i - 1][mode].ok) last = Math.round((out[i].t - outageStart) / 1000);
    return last;
  };
  const steadySamples = samples.filter((x) => x.phase === 'steady');
  const mean = (f) => Math.round(steadySamples.reduce((n, x) => n + f(x), 0) / steadySamples.length / 1024);
  const max = (f) => Math.round(Math.max(...steadySamples.map(f)) / 1024);
  const perHour = (n) => Math.round((n * 3600) / opts.steady);
  const diff = (a, b, k) => b[k] - a[k];
  const tailDelta = (mode, k) => tail[tail.length - 1][mode][k] - tail[0][mode][k];
  const errorsOf = (mode) => {
    const all = {};
    for (const c of group(mode)) for (const [k, v] of Object.entries(c.state.errors ?? {})) all[k] = (all[k] ?? 0) + v;
    return Object.entries(all).sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, v]) => `${v}× \`${k}\``).join('; ') || 'none';
  };

  const out = [];
  const row = (...cells) => out.push(`| ${cells.join(' | ')} |`);
  out.push(`Run: ${new Date().toISOString()}, ${os.cpus().length} CPUs, ${anchor.client} clients; ` +
    `${opts.clients} clients per side, ${opts.lifetime}-second tokens, steady ${opts.steady} s, ` +
    `IdP down ${opts.outage} s, recovery ${opts.recovery} s; agent retry_max ` +
    `${opts['retry-max'] ? `${opts['retry-max']} s` : 'default (60 s)'}, retry_max_expired default (8 s; never above retry_max).`, '');
  row('', `tokenwell (1 agent + ${opts.clients} clients)`, `${anchor.name} (${opts.clients} clients)`);
  row('---', '---', '---');
  row('IdP token requests in the steady phase', steadyReqs.tokenwell, steadyReqs.entraid);
  row('… extrapolated to an hour', perHour(steadyReqs.tokenwell), perHour(steadyReqs.entraid));
  row('RSS, mean (max) in the steady phase, MiB',
    `${mean((x) => x.rss.agent + x.rss.tokenwell)} (${max((x) => x.rss.agent + x.rss.tokenwell)}); agent alone ${mean((x) => x.rss.agent)}`,
    `${mean((x) => x.rss.entraid)} (${max((x) => x.rss.entraid)})`);
  row('RSS per client process, mean in the steady phase, MiB', Math.round(mean((x) => x.rss.tokenwell) / opts.clients),
    Math.round(mean((x) => x.rss.entraid) / opts.clients));
  row('commands ok / failed, steady', `${diff(steady0.tokenwell, steadyEnd.tokenwell, 'ok')} / ${diff(steady0.tokenwell, steadyEnd.tokenwell, 'failed')}`,
    `${diff(steady0.entraid, steadyEnd.entraid, 'ok')} / ${diff(steady0.entraid, steadyEnd.entraid, 'failed')}`);
  row('commands ok / failed, IdP down', `${diff(outage0.tokenwell, outageEnd.tokenwell, 'ok')} / ${diff(outage0.tokenwell, outageEnd.tokenwell, 'failed')}`,
    `${diff(outage0.entraid, outageEnd.entraid, 'ok')} / ${diff(outage0.entraid, outageEnd.entraid, 'failed')}`);
  row('last second with a completed command after the IdP went down, s', lastOkAfter('tokenwell') ?? 'none',
    lastOkAfter('entraid') ?? 'none');
  row('first failed command after the IdP went down, s', firstFailure('tokenwell', outageStart, 'outage') ?? 'none',
    firstFailure('entraid', outageStart, 'outage') ?? 'none');
  row('IdP attempts while down', `${m1.idpRequests - m0.idpRequests} (agent metric tokenwell_idp_requests_total; ` +
    `${m1.refreshFailures - m0.refreshFailures} failed refreshes)`,
  `${diff(outage0.entraid, outageEnd.entraid, 'idpCalls')} (${anchor.idpCalls}; ` +
    `${anchor.retries(diff(outage0.entraid, outageEnd.entraid, 'retryable'))}, ` +
    `${diff(outage0.entraid, outageEnd.entraid, 'authErrors')} ${anchor.authErrors})`);
  row('client reconnects while down', diff(outage0.tokenwell, outageEnd.tokenwell, 'reconnects'),
    diff(outage0.entraid, outageEnd.entraid, 'reconnects'));
  row('commands ok / failed, recovery', `${diff(outageEnd.tokenwell, end.tokenwell, 'ok')} / ${diff(outageEnd.tokenwell, end.tokenwell, 'failed')}`,
    `${diff(outageEnd.entraid, end.entraid, 'ok')} / ${diff(outageEnd.entraid, end.entraid, 'failed')}`);
  row('IdP token requests in the recovery phase', recoveryReqs.tokenwell, recoveryReqs.entraid);
  row('commands ok / failed in the last 10 s', `${tailDelta('tokenwell', 'ok')} / ${tailDelta('tokenwell', 'failed')}`,
    `${tailDelta('entraid', 'ok')} / ${tailDelta('entraid', 'failed')}`);
  row('failures stopped for good after the IdP returned, s', recoveredAfter('tokenwell') ?? 'never (in this run)',
    recoveredAfter('entraid') ?? 'never (in this run)');
  row('commands at half the steady rate again after the IdP returned, s', workingAgainAfter('tokenwell') ?? 'never (in this run)',
    workingAgainAfter('entraid') ?? 'never (in this run)');
  row('clients with a fatal error (process gave up)', end.tokenwell.fatal, end.entraid.fatal);
  row('connections closed by the strict Redis because their token expired',
    proxy.stats.expiredKillsByUser[apps.tokenwell.oid] ?? 0, proxy.stats.expiredKillsByUser[apps.entraid.oid] ?? 0);
  out.push('', `Most frequent client errors — tokenwell: ${errorsOf('tokenwell')}`, '',
    `Most frequent client errors — ${anchor.name}: ${errorsOf('entraid')}`, '',
    `Strict Redis: ${JSON.stringify(proxy.stats)}`);
  console.log(out.join('\n'));

  await proxy.close();
  for (const c of clients) c.kill('SIGTERM');
  await sleep(500);
  fs.writeFileSync(path.join(work, 'samples.json'), JSON.stringify(samples));
  log(`samples: ${path.join(work, 'samples.json')}`);
}

function stopAll() {
  for (const c of children.reverse()) { try { c.kill('SIGTERM'); } catch { /* gone */ } }
}
process.on('SIGINT', () => { stopAll(); process.exit(130); });
main().then(() => { stopAll(); setTimeout(() => process.exit(0), 300); }, (e) => {
  console.error(`compare: ${e.stack}`);
  stopAll();
  process.exit(1);
});
