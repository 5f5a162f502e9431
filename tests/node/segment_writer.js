'use strict';
// segment_writer.js -- writes small segment files by docs/segment-format.md,
// for the reader cases a healthy agent never produces (expired, not fetched,
// corrupt lengths, newer ABI, a file renamed over). Everything else in these
// tests reads segments written by the real agent.

const fs = require('node:fs');

const COPY_SIZE = 512;
const SLOT_SIZE = 64 + 2 * COPY_SIZE;
const align8 = (n) => (n + 7) & ~7;

function nameHash(name) {
  let h = 14695981039346656037n;
  for (const b of Buffer.from(name)) h = ((h ^ BigInt(b)) * 1099511628211n) & 0xffffffffffffffffn;
  return h === 0n ? 1n : h;
}

// entries: [{name, username, secret, generation, expiresAt, hasValue = true,
//            kind = 1, secretLen (override, to corrupt)}]
function segmentBytes(entries, { compat = 1, flags = 0 } = {}) {
  const buf = Buffer.alloc(128 + entries.length * SLOT_SIZE);
  buf.writeUInt32LE(0x4c574b54, 0);
  buf.writeUInt16LE(1, 4);
  buf.writeUInt16LE(compat, 6);
  buf.writeUInt32LE(128, 8);
  buf.writeUInt32LE(entries.length, 12);
  buf.writeUInt32LE(SLOT_SIZE, 16);
  buf.writeUInt32LE(COPY_SIZE, 20);
  buf.writeBigUInt64LE(BigInt(buf.length), 24);
  buf.writeUInt32LE(flags, 32);
  entries.forEach((e, i) => {
    const slot = 128 + i * SLOT_SIZE;
    buf.writeUInt32LE(0, slot); // seq even: copy 0
    buf.writeBigUInt64LE(BigInt(e.generation), slot + 8);
    buf.writeBigUInt64LE(nameHash(e.name), slot + 16);
    for (const copy of [slot + 64, slot + 64 + COPY_SIZE]) {
      const [name, user, secret] = [e.name, e.username ?? '', e.secret ?? ''].map((s) => Buffer.from(s));
      buf.writeBigUInt64LE(BigInt(e.generation), copy);
      buf.writeBigInt64LE(BigInt(e.expiresAt ?? 0), copy + 8);
      buf.writeUInt32LE(e.kind ?? 1, copy + 24);
      buf.writeUInt32LE(e.hasValue === false ? 0 : 1, copy + 28);
      buf.writeUInt16LE(name.length, copy + 32);
      buf.writeUInt16LE(user.length, copy + 34);
      buf.writeUInt32LE(e.secretLen ?? secret.length, copy + 36);
      let at = copy + 64;
      for (const part of [name, user, secret]) {
        part.copy(buf, at);
        at += align8(part.length);
      }
    }
  });
  return buf;
}

function writeSegment(path, entries, opts) {
  fs.writeFileSync(path, segmentBytes(entries, opts));
}

module.exports = { segmentBytes, writeSegment };
