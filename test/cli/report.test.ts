// src/cli/report.ts prints any error from its own message and hint (src/hint.ts), with the exit
// status the house uses: 2 for a usage error, 1 for any other error that says what to do, 70
// for an error that does not (a bug). Errors from three layers, and one rebuilt from a host frame.
import assert from 'node:assert/strict';
import test from 'node:test';
import { reportError } from '../../src/cli/report';
import { UserError } from '../../src/cli/user-error';
import { HostRequestError, toHostErrorInfo } from '../../src/host/host-errors';
import { decodeHostError, encodeHostError } from '../../src/host/host-frames';
import { ModuleLoadError, ModuleSpecError, UriError } from '../../src/pkcs11/errors';
import { ConfigError } from '../../src/rng/config';

function report(err: unknown, debug = false): { code: number; lines: string[] } {
  const chunks: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((s: string) => chunks.push(s) > 0) as typeof process.stderr.write;
  try {
    const code = reportError(err, debug);
    return { code, lines: chunks.join('').trimEnd().split('\n') };
  } finally {
    process.stderr.write = write;
  }
}

test('an error with a hint: its message, its hint, exit 1', () => {
  const r = report(new ModuleLoadError('/x.so', 'not-found', 'ENOENT'));
  assert.deepEqual(r.lines, ['tt-agent: PKCS#11 module /x.so does not exist', `  ${new ModuleLoadError('/x.so', 'not-found', 'ENOENT').hint}`]);
  assert.equal(r.code, 1);
});

test('a usage error from any layer exits 2', () => {
  assert.equal(report(new UriError('pkcs11:a=b', 'a=b', 'unknown attribute')).code, 2);
  assert.equal(report(new ModuleSpecError('nope', 'unknown-module-name', "no p11-kit module named 'nope'")).code, 2);
  assert.equal(report(new ModuleSpecError('x', 'config-unreadable', 'cannot read x')).code, 1, 'not every reason is the user\'s typo');
  assert.equal(report(new ConfigError('--chunk 0 is too small', 'Give 16 to 65536 bytes.')).code, 2);
});

test('a hint that crossed the module-host pipe reads as it did in the host', () => {
  const inHost = new ModuleLoadError('/m.so', 'initialize-failed', 'C_Initialize failed', 'CKR_GENERAL_ERROR', { hint: 'Start pcscd.' });
  const rebuilt = new HostRequestError(decodeHostError(encodeHostError(toHostErrorInfo(inHost))));
  const r = report(rebuilt);
  assert.deepEqual(r.lines, ['tt-agent: PKCS#11 module /m.so failed to start: C_Initialize returned CKR_GENERAL_ERROR', '  Start pcscd.']);
  assert.equal(r.code, 1);
});

test('an error without a hint is a bug: exit 70, and --debug shows its stack', () => {
  const bug = new TypeError('cannot read properties of undefined');
  const r = report(bug);
  assert.equal(r.code, 70);
  assert.equal(r.lines[0], 'tt-agent: cannot read properties of undefined');
  assert.match(r.lines[1], /report it if it looks like a bug/);
  assert.ok(report(bug, true).lines.some((l) => /^\s+at /.test(l)), 'a stack with --debug');
});

test("a UserError keeps its own exit status, and --debug shows its cause's stack", () => {
  const cause = new Error('inner');
  const r = report(new UserError('outer', 'Do this.', 2, { cause }), true);
  assert.equal(r.code, 2);
  assert.deepEqual(r.lines.slice(0, 3), ['tt-agent: outer', '  Do this.', 'Error: inner']);
});
