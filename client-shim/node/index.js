'use strict';
// tokenwell -- the Node binding of tokenwell's client shim: read the current
// credential published by the pod's tokenwell-agent, and keep node-redis v5
// connections authenticated across token rotations.
//
//   const { getCredential, credentialsProvider } = require('tokenwell');
//   const { username, token, expiresAt, generation } = getCredential('redis');
//   const client = createClient({ url, RESP: 3, credentialsProvider: credentialsProvider('redis') });
//
// Reads come from the shared-memory segment ($TOKENWELL_DIR/segment); the
// agent's Unix-socket long-poll only says when to read again. Never calls the
// IdP, never logs a token. See README.md for why this is plain JS.

const path = require('node:path');
const { Segment, KIND_CREDENTIAL } = require('./lib/segment');
const { longPoll } = require('./lib/agent_socket');
const { TokenwellError, CODES } = require('./lib/errors');

const DEFAULT_DIR = '/run/tokenwell';

function resolveDir(opts) {
  if (opts !== undefined && (opts === null || typeof opts !== 'object')) {
    throw new TokenwellError(CODES.EINVAL, `options must be an object, got ${opts === null ? 'null' : typeof opts}`);
  }
  const dir = opts?.dir ?? (process.env.TOKENWELL_DIR || DEFAULT_DIR);
  if (typeof dir !== 'string' || dir === '') {
    throw new TokenwellError(CODES.EINVAL, 'options.dir must be a non-empty string');
  }
  return path.resolve(dir);
}

// One open segment per directory, reused by every call (one fd, no remap).
const segments = new Map();
function segmentFor(dir) {
  let seg = segments.get(dir);
  if (!seg) {
    seg = new Segment(dir);
    segments.set(dir, seg);
  }
  return seg;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

function validCredential(value, name) {
  if (value.kind !== KIND_CREDENTIAL) {
    throw new TokenwellError(CODES.ENOTFOUND, `"${name}" is a keyset, not a credential`);
  }
  if (!value.hasValue) {
    throw new TokenwellError(CODES.ENOVALUE, `credential "${name}" has not been fetched yet`);
  }
  if (value.expiresAt !== 0 && value.expiresAt <= nowSeconds()) {
    throw new TokenwellError(CODES.ENOVALUE, `credential "${name}" expired at ` +
      `${new Date(value.expiresAt * 1000).toISOString()} and no newer one was published ` +
      '(can the agent reach its IdP? see its log and tokenwell_credential_refresh_total)');
  }
  return { username: value.username, token: value.secret, expiresAt: value.expiresAt, generation: value.generation };
}

/**
 * The current credential `name`, read from the segment (a few pread(2)s).
 * Throws TokenwellError: ENOTFOUND, ENOVALUE (not fetched yet, or expired),
 * EUNAVAILABLE (no segment), EFORMAT, EVERSION, EBUSY, EINVAL.
 */
function getCredential(name, opts) {
  const dir = resolveDir(opts);
  return validCredential(segmentFor(dir).read(name), name);
}

// A credential body from the socket API, used only when the segment itself
// cannot be read (e.g. not readable by this uid while the socket allows it).
function fromSocketBody(body) {
  if (!body || typeof body.token !== 'string' || typeof body.username !== 'string' ||
      !Number.isSafeInteger(body.generation) || !Number.isSafeInteger(body.expires_at)) return null;
  if (body.expires_at !== 0 && body.expires_at <= nowSeconds()) return null;
  return { username: body.username, token: body.token, expiresAt: body.expires_at, generation: body.generation };
}

// `background`: the watch loop's timers never keep a process alive; a caller
// awaiting current() does.
function delay(ms, signal, background = false) {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    if (background) timer.unref();
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

// No username: a password-only AUTH as the `default` user. node-redis sends
// `AUTH token` / `HELLO 3 AUTH default token` for an undefined username, but
// `AUTH "" token` (WRONGPASS) for an empty one.
const asBasicAuth = (c) => ({ username: c.username === '' ? undefined : c.username, password: c.token });

// Re-delivery of a generation whose re-AUTH failed: 100 ms, 200 ms, ... at most
// 5 s apart, 10 tries, unless a newer generation arrives first.
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5000;
const RETRY_TRIES = 10;

/**
 * A node-redis v5 StreamingCredentialsProvider fed by tokenwell. One provider
 * serves any number of connections (a pool, pub/sub, duplicates): while at
 * least one is subscribed it holds one long-poll on the agent's socket and
 * hands every newer generation to each connection, which re-AUTHs.
 */
class TokenwellCredentialsProvider {
  constructor(name, opts = {}) {
    if (typeof name !== 'string' || name === '') {
      throw new TokenwellError(CODES.EINVAL, 'credential name must be a non-empty string');
    }
    this.type = 'streaming-credentials-provider';
    this.name = name;
    this.dir = resolveDir(opts);
    const { onReAuthenticationError, waitSeconds = 30, timeoutSeconds = 30 } = opts;
    if (onReAuthenticationError !== undefined && typeof onReAuthenticationError !== 'function') {
      throw new TokenwellError(CODES.EINVAL, 'options.onReAuthenticationError must be a function');
    }
    for (const [key, v] of [['waitSeconds', waitSeconds], ['timeoutSeconds', timeoutSeconds]]) {
      if (!Number.isInteger(v) || v < 1 || v > 300) {
        throw new TokenwellError(CODES.EINVAL, `options.${key} must be an integer from 1 to 300, got ${v}`);
      }
    }
    this._waitSeconds = waitSeconds;
    this._timeoutSeconds = timeoutSeconds;
    this._subscribers = new Set();
    this._generation = 0;        // newest generation seen
    this._expiresAt = 0;         // of that generation
    this._reportedExpiry = -1;   // generation whose expiry was reported
    this._abort = null;          // of the watch loop while it runs
    this._report = onReAuthenticationError ??
      ((error) => process.emitWarning(`tokenwell: re-authentication of "${name}" failed: ${error.message}`));
    this._retry = { generation: 0, tries: 0, timer: null };
    this.reauthRetries = 0; // generations re-delivered after a failed re-AUTH
    // node-redis calls this when a connection's re-AUTH failed (WRONGPASS because
    // Redis saw the token a moment early, a closed connection): the generation is
    // handed to every connection again after a short backoff, then reported.
    this.onReAuthenticationError = (error) => {
      this._scheduleRetry();
      this._report(error);
    };
  }

  /** The current credential, waiting up to timeoutSeconds for a first valid one. */
  async current() {
    const deadline = Date.now() + this._timeoutSeconds * 1000;
    for (;;) {
      let last;
      try {
        const value = segmentFor(this.dir).read(this.name);
        // An expired value's generation still counts as seen: the long-poll
        // below then waits for a newer one instead of returning at once.
        if (value.generation > this._generation) this._generation = value.generation;
        return this._note(validCredential(value, this.name));
      } catch (e) {
        if (!(e instanceof TokenwellError) || e.code === CODES.EINVAL || e.code === CODES.EVERSION) throw e;
        last = e;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new TokenwellError(last.code === CODES.EBUSY ? CODES.EBUSY : CODES.ETIMEOUT,
          `no valid credential "${this.name}" within ${this._timeoutSeconds} s: ${last.message}`);
      }
      try {
        const r = await longPoll(this.dir, this.name,
          { after: this._generation, waitSeconds: Math.max(1, Math.min(this._waitSeconds, Math.ceil(left / 1000))),
            background: false });
        const c = r.status === 200 ? fromSocketBody(r.body) : null;
        if (c && last.code === CODES.EUNAVAILABLE) return this._note(c); // socket allowed, segment not readable
        if (!c) await delay(Math.min(left, 250));
      } catch {
        await delay(Math.min(left, 250)); // no agent socket yet: look at the segment again soon
      }
    }
  }

  /** StreamingCredentialsProvider.subscribe: [initial credentials, disposable]. */
  async subscribe(listener) {
    if (!listener || typeof listener.onNext !== 'function' || typeof listener.onError !== 'function') {
      throw new TokenwellError(CODES.EINVAL, 'subscribe needs a listener with onNext and onError');
    }
    const initial = await this.current();
    const sub = { listener, generation: initial.generation };
    this._subscribers.add(sub);
    this._startWatching();
    const dispose = () => {
      this._subscribers.delete(sub);
      if (this._subscribers.size === 0) this._stopWatching();
    };
    return [asBasicAuth(initial), { dispose }];
  }

  _note(c) {
    if (c.generation >= this._generation) {
      this._generation = c.generation;
      this._expiresAt = c.expiresAt;
    }
    return c;
  }

  _startWatching() {
    if (this._abort) return;
    const abort = new AbortController();
    this._abort = abort;
    this._watch(abort.signal).finally(() => {
      if (this._abort === abort) this._abort = null;
    });
  }

  _stopWatching() {
    this._abort?.abort();
    this._abort = null;
    clearTimeout(this._retry.timer);
    this._retry.timer = null;
  }

  _scheduleRetry() {
    const r = this._retry;
    if (r.timer || this._subscribers.size === 0) return; // one re-delivery covers every failed connection
    if (r.generation !== this._generation) {
      r.generation = this._generation;
      r.tries = 0;
    }
    if (r.tries >= RETRY_TRIES) return; // given up on this generation: the next rotation tries again
    const delayMs = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** r.tries);
    r.tries++;
    r.timer = setTimeout(() => {
      r.timer = null;
      let c;
      try {
        c = getCredential(this.name, { dir: this.dir });
      } catch (e) {
        this._report(e);
        return;
      }
      if (c.generation !== r.generation) return; // a newer one: the watch loop delivers it
      this.reauthRetries++;
      for (const sub of this._subscribers) {
        try {
          sub.listener.onNext(asBasicAuth(c));
        } catch (e) {
          this._report(e);
        }
      }
    }, delayMs);
    r.timer.unref();
  }

  async _watch(signal) {
    let failures = 0;
    while (!signal.aborted) {
      // Wake up by the expiry at the latest, to report a token nobody replaced.
      const expiryPending = this._expiresAt && this._reportedExpiry !== this._generation;
      const untilExpiry = expiryPending ? this._expiresAt - nowSeconds() + 1 : this._waitSeconds;
      const waitSeconds = Math.max(1, Math.min(this._waitSeconds, untilExpiry));
      let body = null;
      try {
        const r = await longPoll(this.dir, this.name,
          { after: this._generation, waitSeconds, signal, background: true });
        if (r.status === 200) {
          failures = 0;
          body = r.body;
        } else {
          failures++;
        }
      } catch {
        if (signal.aborted) return;
        failures++;
      }
      this._deliver(body);
      if (failures > 0) {
        // Agent restarting or socket refused: back off (full jitter, at most
        // 5 s) and keep reading the segment, which stays valid meanwhile.
        await delay(Math.random() * Math.min(5000, 250 * 2 ** Math.min(failures, 5)), signal, true);
      }
    }
  }

  _deliver(body) {
    let c = null;
    try {
      c = getCredential(this.name, { dir: this.dir });
    } catch (e) {
      c = fromSocketBody(body);
      if (!c && e.code === CODES.ENOVALUE && this._expiresAt && this._expiresAt <= nowSeconds() &&
          this._reportedExpiry !== this._generation) {
        this._reportedExpiry = this._generation;
        // Not the stream's onError: the agent keeps retrying and the stream
        // resumes with the next token, so this is reported, not fatal.
        this._report(e);
      }
    }
    if (!c) return;
    this._note(c);
    for (const sub of this._subscribers) {
      if (c.generation <= sub.generation) continue;
      sub.generation = c.generation;
      try {
        sub.listener.onNext(asBasicAuth(c));
      } catch (e) {
        this.onReAuthenticationError(e);
      }
    }
  }
}

/** A node-redis v5 StreamingCredentialsProvider for credential `name`. */
function credentialsProvider(name, opts) {
  return new TokenwellCredentialsProvider(name, opts);
}

module.exports = { getCredential, credentialsProvider, TokenwellCredentialsProvider, TokenwellError, CODES };
