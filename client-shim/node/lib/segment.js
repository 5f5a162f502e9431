'use strict';
// segment.js -- reads credentials from tokenwell's shared-memory segment
// (docs/segment-format.md, ABI 1) with plain positional reads of the file.
//
//   const seg = new Segment('/run/tokenwell');
//   const v = seg.read('redis');   // {name, kind, hasValue, generation, expiresAt, username, secret}
//   seg.close();
//
// Node cannot map memory without a native addon, so each read is a few
// pread(2)s of the tmpfs file: the slot's latch sequence, the copy it selects,
// the sequence again. A changed sequence means the agent rewrote that copy
// meanwhile and the read is retried (bounded), exactly the latch protocol of
// the C reader; the kernel copies page-cache bytes, and every syscall is a
// full compiler and CPU barrier, so no torn value passes the re-check.
// Lengths come from shared memory and are clamped before any byte is used.
//
// Not thread-safe across worker_threads sharing one instance (none is shared).

const fs = require('node:fs');
const path = require('node:path');
const { TokenwellError, CODES } = require('./errors');

// The format's constants. Each mirrors one of client-shim/src/segment_format.h
// or tokenwell.h (C_CONSTANTS below says which), and tests/node/
// constants.test.js parses those headers and fails when they drift.
const MAGIC = 0x4c574b54;
const READER_ABI = 1;
const HEADER_SIZE = 128;
const SLOT_HEADER_SIZE = 64;
const COPY_HEADER_SIZE = 64;
const FLAG_REPLACED = 1;
const COPY_HAS_VALUE = 1;
const KIND_FREE = 0;
const KIND_CREDENTIAL = 1;
const READ_RETRIES = 1000;
const NAME_MAX = 64;
const USERNAME_MAX = 256;
// Sanity bounds on sizes read from the header (the file's real size is the
// other bound): far above anything the agent writes.
const MAX_SLOTS = 1 << 16;
const MAX_COPY_SIZE = 64 << 20;

const C_CONSTANTS = Object.freeze({
  TW_SEG_MAGIC: MAGIC,
  TW_SEG_ABI_VERSION: READER_ABI,
  TW_SEG_HEADER_SIZE: HEADER_SIZE,
  TW_SEG_SLOT_HEADER_SIZE: SLOT_HEADER_SIZE,
  TW_SEG_COPY_HEADER_SIZE: COPY_HEADER_SIZE,
  TW_SEG_FLAG_REPLACED: FLAG_REPLACED,
  TW_SEG_COPY_HAS_VALUE: COPY_HAS_VALUE,
  TW_SEG_KIND_FREE: KIND_FREE,
  TW_SEG_KIND_CREDENTIAL: KIND_CREDENTIAL,
  TW_SEG_READ_RETRIES: READ_RETRIES,
  TW_SEG_MAX_SLOTS: MAX_SLOTS,
  TW_SEG_MAX_COPY_SIZE: MAX_COPY_SIZE,
  TOKENWELL_NAME_MAX: NAME_MAX,
  TOKENWELL_USERNAME_MAX: USERNAME_MAX,
});

const align8 = (n) => (n + 7) & ~7;

// FNV-1a 64 of the name's bytes; 0 is stored as 1.
function nameHash(bytes) {
  let h = 14695981039346656037n;
  for (const b of bytes) h = ((h ^ BigInt(b)) * 1099511628211n) & 0xffffffffffffffffn;
  return h === 0n ? 1n : h;
}

function checkName(name) {
  if (typeof name !== 'string') {
    throw new TokenwellError(CODES.EINVAL, `credential name must be a string, got ${typeof name}`);
  }
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length === 0 || bytes.length > NAME_MAX) {
    throw new TokenwellError(CODES.EINVAL,
      `credential name must be 1-${NAME_MAX} bytes, got ${bytes.length}`);
  }
  return bytes;
}

// A u64 that must fit a JS number (generations, times): exact below 2^53.
function u64(buf, off) {
  return Number(buf.readBigUInt64LE(off));
}

class Segment {
  constructor(dir) {
    this.dir = dir;
    this.path = path.join(dir, 'segment');
    this._fd = -1;
    this._slotOf = new Map(); // name -> slot index last seen holding it
    this._hashOf = new Map();
  }

  close() {
    if (this._fd >= 0) fs.closeSync(this._fd);
    this._fd = -1;
    this._slotOf.clear();
  }

  // The current value of `name` as stored (valid or not). Throws
  // TokenwellError EUNAVAILABLE / EFORMAT / EVERSION / ENOTFOUND / EBUSY.
  read(name) {
    const bytes = checkName(name);
    this._ensureOpen();
    let hash = this._hashOf.get(name);
    if (hash === undefined) {
      hash = nameHash(bytes);
      this._hashOf.set(name, hash);
    }
    const cached = this._slotOf.get(name);
    if (cached !== undefined) {
      const v = this._readSlot(cached);
      if (v && v.kind !== KIND_FREE && v.name === name) return v;
      this._slotOf.delete(name);
    }
    let busy = false;
    for (let i = 0; i < this._slotCount; i++) {
      this._pread(this._slotHeader, 0, SLOT_HEADER_SIZE, this._slotOffset(i));
      if (this._slotHeader.readBigUInt64LE(16) !== hash) continue;
      const v = this._readSlot(i);
      if (v === null) { busy = true; continue; }
      if (v.kind === KIND_FREE || v.name !== name) continue; // collision, or the slot changed hands
      this._slotOf.set(name, i);
      return v;
    }
    if (busy) throw new TokenwellError(CODES.EBUSY, `credential "${name}" is changing too fast to read; try again`);
    throw new TokenwellError(CODES.ENOTFOUND, `no credential named "${name}" in ${this.path}`);
  }

  _slotOffset(i) {
    return HEADER_SIZE + i * this._slotSize;
  }

  _pread(buf, off, len, pos) {
    let done = 0;
    while (done < len) {
      const n = fs.readSync(this._fd, buf, off + done, len - done, pos + done);
      if (n === 0) {
        throw new TokenwellError(CODES.EFORMAT, `${this.path} is shorter than its header says`);
      }
      done += n;
    }
  }

  // Opens the file, or reopens it when the agent renamed a new one over it.
  _ensureOpen() {
    if (this._fd >= 0) {
      this._pread(this._word, 0, 4, 32);
      if ((this._word.readUInt32LE(0) & FLAG_REPLACED) === 0) return;
      this.close(); // a newer file was renamed over this one
    }
    let fd;
    try {
      fd = fs.openSync(this.path, 'r');
    } catch (e) {
      const why = e.code === 'ENOENT' ? 'no such file (is tokenwell-agent running, and is the dir right?)'
        : e.code === 'EACCES' ? 'permission denied' : e.code;
      throw new TokenwellError(CODES.EUNAVAILABLE, `cannot open ${this.path}: ${why}`);
    }
    try {
      this._fd = fd;
      this._layout(fs.fstatSync(fd).size);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  _layout(fileSize) {
    const bad = (why) => new TokenwellError(CODES.EFORMAT, `${this.path} is not a tokenwell segment: ${why}`);
    if (fileSize < HEADER_SIZE) throw bad(`${fileSize} bytes, less than the ${HEADER_SIZE}-byte header`);
    const h = Buffer.alloc(HEADER_SIZE);
    this._pread(h, 0, HEADER_SIZE, 0);
    if (h.readUInt32LE(0) !== MAGIC) throw bad('wrong magic');
    const compat = h.readUInt16LE(6);
    if (compat > READER_ABI) {
      throw new TokenwellError(CODES.EVERSION,
        `${this.path} needs a reader of ABI ${compat}; this binding reads ABI ${READER_ABI} (upgrade it)`);
    }
    const headerSize = h.readUInt32LE(8);
    const slotCount = h.readUInt32LE(12);
    const slotSize = h.readUInt32LE(16);
    const copySize = h.readUInt32LE(20);
    if (headerSize !== HEADER_SIZE) throw bad(`header_size ${headerSize}`);
    if (slotCount === 0 || slotCount > MAX_SLOTS) throw bad(`slot_count ${slotCount}`);
    if (copySize < COPY_HEADER_SIZE + 8 || copySize > MAX_COPY_SIZE || copySize % 8 !== 0) {
      throw bad(`copy_size ${copySize}`);
    }
    if (slotSize % 8 !== 0 || slotSize < SLOT_HEADER_SIZE + 2 * copySize) throw bad(`slot_size ${slotSize}`);
    if (HEADER_SIZE + slotCount * slotSize > fileSize) {
      throw bad(`${slotCount} slots of ${slotSize} bytes do not fit in ${fileSize} bytes`);
    }
    this._slotCount = slotCount;
    this._slotSize = slotSize;
    this._copySize = copySize;
    this._word = Buffer.alloc(4);
    this._slotHeader = Buffer.alloc(SLOT_HEADER_SIZE);
    this._copy = Buffer.alloc(copySize);
  }

  // One consistent copy of slot i (the latch protocol), or null when the
  // writer kept changing it for READ_RETRIES attempts. Throws EFORMAT for a
  // stable copy whose lengths do not fit.
  _readSlot(i) {
    const slot = this._slotOffset(i);
    const cap = this._copySize - COPY_HEADER_SIZE;
    const c = this._copy;
    for (let attempt = 0; attempt < READ_RETRIES; attempt++) {
      this._pread(this._word, 0, 4, slot);
      const seq = this._word.readUInt32LE(0);
      this._pread(c, 0, this._copySize, slot + SLOT_HEADER_SIZE + (seq & 1) * this._copySize);
      this._pread(this._word, 0, 4, slot);
      if (this._word.readUInt32LE(0) !== seq) continue;

      const nameLen = c.readUInt16LE(32);
      const usernameLen = c.readUInt16LE(34);
      const secretLen = c.readUInt32LE(36);
      const publicLen = c.readUInt32LE(40);
      const end = align8(nameLen) + align8(usernameLen) + align8(secretLen) + align8(publicLen);
      if (end > cap || nameLen > NAME_MAX || usernameLen > USERNAME_MAX) {
        throw new TokenwellError(CODES.EFORMAT, `${this.path}: slot ${i} holds lengths that do not fit its copy`);
      }
      const data = COPY_HEADER_SIZE;
      const usernameAt = data + align8(nameLen);
      const secretAt = usernameAt + align8(usernameLen);
      const value = {
        generation: u64(c, 0),
        expiresAt: Number(c.readBigInt64LE(8)),
        kind: c.readUInt32LE(24),
        hasValue: (c.readUInt32LE(28) & COPY_HAS_VALUE) !== 0,
        name: c.toString('utf8', data, data + nameLen),
        username: c.toString('utf8', usernameAt, usernameAt + usernameLen),
        secret: c.toString('utf8', secretAt, secretAt + secretLen),
      };
      c.fill(0, secretAt, secretAt + secretLen); // no stray copy of the token in the buffer
      return value;
    }
    return null;
  }
}

module.exports = { Segment, nameHash, KIND_CREDENTIAL, C_CONSTANTS };
