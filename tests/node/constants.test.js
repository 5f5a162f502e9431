'use strict';
// The Node reader re-types the segment format's constants (it reads the file
// without the C library). This parses the C headers they come from and fails
// when the two drift: a value that differs, a constant the Node reader mirrors
// that the headers lost, a new TW_SEG_* constant the Node reader has not
// considered, or an error code name the C library does not have.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { C_CONSTANTS } = require('../../client-shim/node/lib/segment');
const { CODES } = require('../../client-shim/node/lib/errors');

const shim = path.join(__dirname, '../../client-shim');
const segmentFormat = fs.readFileSync(path.join(shim, 'src/segment_format.h'), 'utf8');
const tokenwellH = fs.readFileSync(path.join(shim, 'include/tokenwell/tokenwell.h'), 'utf8');

// TW_SEG_* constants a reader needs no copy of, and why.
const NOT_READ = {
  TW_SEG_COMPAT_VERSION: 'what the writer stamps; a reader compares compat_version with its own ABI',
  TW_SEG_KIND_KEYSET: 'the Node binding reads credentials only',
};

// Integer constants of a C header: `#define NAME value` with a number or a
// shift expression, and `NAME = value` enumerators.
function cConstants(text) {
  const out = new Map();
  const body = text.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/.*$/gm, ' ');
  const value = (expr) => {
    const e = expr.trim().replace(/\b(0x[0-9a-f]+|\d+)u\b/gi, '$1');
    if (!/^[\s()0-9a-fx<]+$/i.test(e)) return undefined; // not a plain integer expression
    return Function(`"use strict"; return (${e});`)();
  };
  for (const m of body.matchAll(/^#define\s+([A-Z_][A-Z0-9_]*)\s+([^\n]+)$/gm)) {
    const v = value(m[2]);
    if (v !== undefined) out.set(m[1], v);
  }
  for (const m of body.matchAll(/\b([A-Z_][A-Z0-9_]*)\s*=\s*(\d+)\s*[,}]/g)) out.set(m[1], Number(m[2]));
  return out;
}

const fromC = new Map([...cConstants(segmentFormat), ...cConstants(tokenwellH)]);

test('the parser reads the headers (so the checks below check something)', () => {
  assert.equal(fromC.get('TW_SEG_HEADER_SIZE'), 128);
  assert.equal(fromC.get('TOKENWELL_ENOTFOUND'), 2);
  assert.ok(fromC.size > 20);
});

test('every constant the Node reader mirrors has the C value', () => {
  for (const [name, jsValue] of Object.entries(C_CONSTANTS)) {
    assert.ok(fromC.has(name), `${name} is not defined in the C headers any more`);
    assert.equal(jsValue, fromC.get(name), `${name}: Node has ${jsValue}, C has ${fromC.get(name)}`);
  }
});

test('every TW_SEG_* constant of segment_format.h is mirrored or known not to matter', () => {
  const unconsidered = [...cConstants(segmentFormat).keys()]
    .filter((name) => name.startsWith('TW_SEG_') && !(name in C_CONSTANTS) && !(name in NOT_READ));
  assert.deepEqual(unconsidered, [], 'new format constants: mirror them in lib/segment.js or list them in NOT_READ');
});

test('every error code name of the binding is one of tokenwell.h', () => {
  for (const name of Object.keys(CODES)) {
    assert.ok(fromC.has(`TOKENWELL_${name}`), `TOKENWELL_${name} is not a code of tokenwell.h`);
  }
});
