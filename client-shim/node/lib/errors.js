'use strict';
// errors.js -- the one error type of the binding. `code` names what is wrong
// with the same words as libtokenwell's TOKENWELL_E* codes, so a message from
// Node, Python, C or the CLI means the same thing.

const CODES = Object.freeze({
  EINVAL: 'EINVAL',             // a bad argument (name, dir, option)
  ENOTFOUND: 'ENOTFOUND',       // no credential of that name in the segment
  ENOVALUE: 'ENOVALUE',         // known, but not fetched yet or expired
  EUNAVAILABLE: 'EUNAVAILABLE', // no segment: agent not started, wrong dir
  EFORMAT: 'EFORMAT',           // segment truncated, wrong magic, bad sizes
  EVERSION: 'EVERSION',         // segment written by a newer, incompatible ABI
  EBUSY: 'EBUSY',               // value changing too fast; try again
  ETIMEOUT: 'ETIMEOUT',         // no valid value within the wait
});

class TokenwellError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'TokenwellError';
    this.code = code;
  }
}

module.exports = { TokenwellError, CODES };
