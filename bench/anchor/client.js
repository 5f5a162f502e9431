'use strict';
// client.js MODE -- one application process of the side-by-side comparison
// (compare.js starts 8 of each): node-redis v5 issuing SET/GET every 100 ms
// through the strict Redis, authenticated either by
//   tokenwell  the Node binding over the pod's one tokenwell-agent, or
//   entraid    @redis/entraid's own token manager (MSAL client credentials)
//              against the Entra stand-in -- as its README configures it,
//              with DEFAULT_TOKEN_MANAGER_CONFIG (retry on network errors,
//              10 attempts). MSAL needs knownAuthorities + authorityMetadata
//              so it does not try to reach login.microsoftonline.com.
// Prints one JSON line a second: {ok, failed, errors: {text: n}, authErrors, retryable, reconnects, idpCalls}.
// Environment: REDIS_SOCKET, and TOKENWELL_DIR or STANDIN_JSON + ENTRAID_CLIENT_ID + ENTRAID_SECRET_FILE.

const fs = require('node:fs');
const { createClient } = require('redis');

const mode = process.argv[2];
const counts = { ok: 0, failed: 0, errors: {}, authErrors: 0, retryable: 0, reconnects: 0, idpCalls: 0 };
const note = (e) => {
  const text = String(e?.message ?? e).replace(/eyJ[\w.-]+/g, '<token>').slice(0, 120);
  counts.errors[text] = (counts.errors[text] ?? 0) + 1;
};

function entraidProvider() {
  const msal = require('@azure/msal-node');
  const { EntraidCredentialsProvider, MSALIdentityProvider, OID_CREDENTIALS_MAPPER, DEFAULT_TOKEN_MANAGER_CONFIG,
    REDIS_SCOPE_DEFAULT } = require('@redis/entraid');
  const { TokenManager } = require('@redis/client/dist/lib/authx');
  const s = JSON.parse(fs.readFileSync(process.env.STANDIN_JSON, 'utf8'));
  const authority = `${s.base_url}${s.tenant}`;
  // EntraIdCredentialsProviderFactory.createForClientCredentials, except that
  // its MSAL config has no knownAuthorities/authorityMetadata knob.
  const app = new msal.ConfidentialClientApplication({
    auth: {
      clientId: process.env.ENTRAID_CLIENT_ID,
      clientSecret: fs.readFileSync(process.env.ENTRAID_SECRET_FILE, 'utf8').trim(),
      authority,
      knownAuthorities: [new URL(s.base_url).host],
      authorityMetadata: JSON.stringify({
        token_endpoint: `${authority}/oauth2/v2.0/token`,
        authorization_endpoint: `${authority}/oauth2/v2.0/authorize`,
        end_session_endpoint: `${authority}/oauth2/v2.0/logout`,
        issuer: `${authority}/v2.0`,
        jwks_uri: `${authority}/discovery/v2.0/keys`,
      }),
    },
  });
  const idp = new MSALIdentityProvider(() => (counts.idpCalls++, app).acquireTokenByClientCredential({
    skipCache: true, scopes: [REDIS_SCOPE_DEFAULT] }).then((x) => (x === null ? Promise.reject('Token is null') : x)));
  return new EntraidCredentialsProvider(new TokenManager(idp, DEFAULT_TOKEN_MANAGER_CONFIG), idp, {
    credentialsMapper: OID_CREDENTIALS_MAPPER,
    onReAuthenticationError: (e) => { counts.authErrors++; note(e); },
    onRetryableError: () => { counts.retryable++; },
  });
}

function tokenwellProvider() {
  const { credentialsProvider } = require('../../client-shim/node');
  return credentialsProvider('redis', { onReAuthenticationError: (e) => { counts.authErrors++; note(e); } });
}

async function main() {
  const credentialsProvider = mode === 'entraid' ? entraidProvider() : mode === 'tokenwell' ? tokenwellProvider()
    : (() => { throw new Error(`mode must be tokenwell or entraid, got ${mode}`); })();
  const client = createClient({ socket: { path: process.env.REDIS_SOCKET }, RESP: 3, credentialsProvider,
    disableOfflineQueue: true });
  client.on('error', note);
  client.on('reconnecting', () => counts.reconnects++);
  await client.connect();
  const report = setInterval(() => process.stdout.write(`${JSON.stringify(counts)}\n`), 1000);
  let running = true;
  process.on('SIGTERM', () => { running = false; });
  for (let i = 0; running; i++) {
    try {
      await client.set(`${mode}:${process.pid}`, String(i));
      await client.get(`${mode}:${process.pid}`);
      counts.ok += 2;
    } catch (e) {
      counts.failed += 1;
      note(e);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  clearInterval(report);
  process.stdout.write(`${JSON.stringify(counts)}\n`);
  client.destroy();
  process.exit(0);
}

main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ fatal: String(e?.message ?? e) })}\n`);
  process.exit(1);
});
