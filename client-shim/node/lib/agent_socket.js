'use strict';
// agent_socket.js -- the agent's long-poll over its Unix socket
// (docs/socket-api.md), used only to learn *when* to re-read:
//
//   const r = await longPoll(dir, 'redis', {after: 7, waitSeconds: 30});
//   // r.status 200: r.body is {name, username, token, expires_at, generation};
//   // the generation may still be 7 when the wait ran out.
//
// The request is asynchronous, so a waiting provider costs one idle socket
// and no thread; with `background` the socket is unref'd so a provider's
// watch never keeps a process alive.

const http = require('node:http');
const path = require('node:path');

const MAX_BODY = 1 << 20;

function longPoll(dir, name, { after, waitSeconds, signal, background }) {
  const socketPath = path.join(dir, 'agent.sock');
  const query = `after=${after}&wait=${waitSeconds}`;
  return new Promise((resolve, reject) => {
    const req = http.request({
      socketPath,
      path: `/v1/credentials/${encodeURIComponent(name)}?${query}`,
      method: 'GET',
      agent: false,
      timeout: (waitSeconds + 10) * 1000,
      signal,
    }, (res) => {
      const chunks = [];
      let size = 0;
      res.on('data', (chunk) => {
        size += chunk.length;
        if (size > MAX_BODY) {
          req.destroy(new Error(`${socketPath}: response larger than ${MAX_BODY} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        let body = null;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          // not JSON: the status alone says what happened
        }
        resolve({ status: res.statusCode, body });
      });
      res.on('error', reject);
    });
    if (background) req.on('socket', (s) => s.unref());
    req.on('timeout', () => req.destroy(new Error(`${socketPath}: no answer within ${waitSeconds + 10} s`)));
    req.on('error', reject);
    req.end();
  });
}

module.exports = { longPoll };
