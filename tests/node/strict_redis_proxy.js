'use strict';
// strict_redis_proxy.js -- a minimal strict "Azure Cache for Redis" in front
// of a real redis-server, for the Node tests and bench/anchor:
//
//   const proxy = await startStrictProxy({ listen, upstream, jwksUrl, ca });
//   ... clients connect to `listen` (a Unix socket) ...
//   proxy.stats  // {authOk, authRejected, expiredKills, expiredKillsByUser, noAuth, connections}
//   await proxy.close();
//
// Like Azure it accepts `AUTH <oid> <token>` / `HELLO n AUTH <oid> <token>`
// only with an access token the IdP signed (RS256, checked against its JWKS),
// for the right audience, whose `oid` is the username and which has not
// expired -- any such token, so any number of clients with their own tokens
// can connect -- and it closes a connection the moment the token it last
// authenticated with expires. A client that does not re-AUTH in time fails.
//
// Client-to-server traffic is parsed as RESP commands so replies stay in
// order: an accepted AUTH goes upstream as `AUTH default -` (the upstream's
// default user has no password), a refused one as a login of a user that
// does not exist (WRONGPASS from Redis itself), a command before any AUTH as
// a script returning NOAUTH. Server-to-client bytes are passed through.

const crypto = require('node:crypto');
const fs = require('node:fs');
const https = require('node:https');
const net = require('node:net');

const AUDIENCE = 'https://redis.azure.com';

function getJson(url, ca) {
  return new Promise((resolve, reject) => {
    https.get(url, { ca }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`${url}: HTTP ${res.statusCode}`));
        try { resolve(JSON.parse(Buffer.concat(chunks).toString())); } catch (e) { reject(e); }
      });
    }).on('error', reject);
  });
}

const b64url = (s) => Buffer.from(s, 'base64url');

// The token's claims when it is valid for `username` now, else the reason.
function checkToken(keys, username, token) {
  const parts = token.split('.');
  if (parts.length !== 3) return { error: 'not a JWT' };
  let header, claims;
  try {
    header = JSON.parse(b64url(parts[0]));
    claims = JSON.parse(b64url(parts[1]));
  } catch {
    return { error: 'undecodable JWT' };
  }
  const key = keys.get(header.kid);
  if (header.alg !== 'RS256' || !key) return { error: 'unknown signing key' };
  const ok = crypto.verify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`), key, b64url(parts[2]));
  if (!ok) return { error: 'bad signature' };
  if (claims.aud !== AUDIENCE) return { error: 'wrong audience' };
  if (claims.oid !== username) return { error: 'username is not the token\'s oid' };
  if (!(claims.exp * 1000 > Date.now())) return { error: 'expired' };
  return { claims };
}

function encode(args) {
  let out = `*${args.length}\r\n`;
  for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return Buffer.from(out);
}

// One RESP array of bulk strings from buf at `at`: [args, next] or null.
function parseCommand(buf, at) {
  const line = (from) => {
    const end = buf.indexOf('\r\n', from);
    return end < 0 ? null : [buf.toString('latin1', from + 1, end), end + 2];
  };
  if (at >= buf.length) return null;
  if (buf[at] !== 0x2a) throw new Error('only RESP arrays are supported');
  const head = line(at);
  if (!head) return null;
  let [n, pos] = [Number(head[0]), head[1]];
  const args = [];
  for (let i = 0; i < n; i++) {
    if (pos >= buf.length) return null;
    if (buf[pos] !== 0x24) throw new Error('only bulk strings are supported');
    const len = line(pos);
    if (!len) return null;
    const size = Number(len[0]);
    if (len[1] + size + 2 > buf.length) return null;
    args.push(buf.toString('utf8', len[1], len[1] + size));
    pos = len[1] + size + 2;
  }
  return [args, pos];
}

async function startStrictProxy({ listen, upstream, jwksUrl, ca }) {
  const jwks = await getJson(jwksUrl, ca ? fs.readFileSync(ca) : undefined);
  const keys = new Map(jwks.keys.map((k) => [k.kid, crypto.createPublicKey({ key: k, format: 'jwk' })]));
  const stats = { authOk: 0, authRejected: 0, expiredKills: 0, noAuth: 0, connections: 0, expiredKillsByUser: {} };
  const open = new Set();

  const server = net.createServer((client) => {
    stats.connections++;
    const up = net.connect(upstream);
    const conn = { client, up, authed: false, timer: null };
    open.add(conn);
    let pending = Buffer.alloc(0);
    const close = () => {
      clearTimeout(conn.timer);
      open.delete(conn);
      client.destroy();
      up.destroy();
    };
    client.on('error', close).on('close', close);
    up.on('error', close).on('close', close);
    up.on('data', (d) => client.write(d));

    // Returns the upstream form of AUTH with `user`/`token` and notes the expiry.
    const login = (user, token) => {
      const r = checkToken(keys, user, token);
      if (r.error) {
        stats.authRejected++;
        return ['tokenwell-refused', r.error.replace(/\s/g, '-')];
      }
      stats.authOk++;
      conn.authed = true;
      clearTimeout(conn.timer);
      conn.timer = setTimeout(() => {
        stats.expiredKills++;
        stats.expiredKillsByUser[user] = (stats.expiredKillsByUser[user] ?? 0) + 1;
        close();
      }, r.claims.exp * 1000 - Date.now());
      return ['default', '-'];
    };
    const rewrite = (args) => {
      const name = args[0].toUpperCase();
      if (name === 'AUTH') {
        const [user, token] = args.length === 3 ? [args[1], args[2]] : ['default', args[1] ?? ''];
        return ['AUTH', ...login(user, token)];
      }
      if (name === 'HELLO') {
        const out = [...args];
        const i = out.findIndex((a, k) => k > 1 && a.toUpperCase() === 'AUTH');
        if (i > 0) out.splice(i + 1, 2, ...login(out[i + 1], out[i + 2]));
        else if (!conn.authed) return noAuth();
        return out;
      }
      if (!conn.authed) return noAuth();
      return args;
    };
    const noAuth = () => {
      stats.noAuth++;
      return ['EVAL', "return redis.error_reply('NOAUTH Authentication required.')", '0'];
    };

    client.on('data', (d) => {
      pending = pending.length ? Buffer.concat([pending, d]) : d;
      let at = 0;
      try {
        for (let c; (c = parseCommand(pending, at)); at = c[1]) up.write(encode(rewrite(c[0])));
      } catch {
        close();
        return;
      }
      pending = pending.subarray(at);
    });
  });
  fs.rmSync(listen, { force: true });
  await new Promise((resolve, reject) => server.listen(listen, resolve).on('error', reject));
  return {
    stats,
    close: () => new Promise((resolve) => {
      for (const c of open) { clearTimeout(c.timer); c.client.destroy(); c.up.destroy(); }
      server.close(() => resolve());
    }),
  };
}

module.exports = { startStrictProxy };
