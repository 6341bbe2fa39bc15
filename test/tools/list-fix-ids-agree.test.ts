// `tt-agent list` and `tt-agent fix-ids` must agree: list says "run tt-agent fix-ids" exactly
// when `fix-ids --dry-run` would change something, before and after the fix. The case that split
// them: two copies of one certificate (IDs 01 and 05). Copies of one key's certificate are one
// key (not an orphan, not "an ID used by more than one key"); fix-ids gives the copy the key's
// ID, and then both say the token is in order.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'node:test';
import { makeToken, type TestToken } from '../helpers/softhsm';
import { setIdByLabel } from './pkcs11-fixtures';
import { tt } from './run';

function listUri(tok: TestToken, label: string): string {
  const pinFile = path.join(tok.dir, 'pin-for-list');
  fs.writeFileSync(pinFile, `${tok.pin}\n`);
  return `pkcs11:token=${label}?module-path=${tok.module}&pin-source=file:${pinFile}`;
}

/** The key rows of `tt-agent list` (logged in), and whether any says to run fix-ids. */
function list(tok: TestToken, label: string): { status: number | null; rows: string[]; recommends: boolean } {
  const r = tt(tok, ['list', listUri(tok, label)], { pin: false });
  const rows = r.stdout.split('\n').filter((l) => /^ {2}(ECDSA|RSA|Ed25519|ED25519)/i.test(l));
  return { status: r.status, rows, recommends: /run tt-agent fix-ids/.test(r.stdout) };
}

function dryRun(tok: TestToken): { status: number | null; stdout: string; changes: boolean } {
  const r = tt(tok, ['fix-ids', tok.module, '--dry-run']);
  return { status: r.status, stdout: r.stdout, changes: /would change \d+ CKA_ID/.test(r.stdout) };
}

function assertAgree(tok: TestToken, label: string, when: string): boolean {
  const l = list(tok, label);
  const d = dryRun(tok);
  assert.equal(l.status, 0);
  assert.equal(d.status, 0, d.stdout);
  assert.equal(l.recommends, d.changes, `${when}: list ${l.recommends ? 'recommends' : 'does not recommend'} fix-ids, fix-ids --dry-run:\n${d.stdout}\nlist:\n${l.rows.join('\n')}`);
  return d.changes;
}

test('two copies of one certificate (IDs 01 and 05): one key row, fix-ids moves the copy, then both agree it is in order', (t) => {
  const tok = makeToken({ setEnv: false, tokens: [{ label: 'dup', keys: [{ kind: 'ec:prime256v1', id: '01', label: 'k1', cert: { id: '01', subject: '/CN=k1' } }] }] });
  t.after(() => tok.cleanup());
  const der = path.join(tok.dir, 'copy.der');
  tok.pkcs11Tool(['--read-object', '--type', 'cert', '--id', '01', '-o', der]);
  tok.pkcs11Tool(['--login', '--pin', tok.pin, '--write-object', der, '--type', 'cert', '--id', '05', '--label', 'copy']);

  const before = list(tok, 'dup');
  assert.equal(before.rows.length, 1, `one key, one row:\n${before.rows.join('\n')}`);
  assert.match(before.rows[0], /! CKA_ID differs: private key 01, public key 01, certificate 01, certificate 05; run tt-agent fix-ids$/);
  assert.doesNotMatch(before.rows.join('\n'), /without a private key|more than one key/);
  assert.ok(assertAgree(tok, 'dup', 'before'));
  assert.match(dryRun(tok).stdout, /\ncertificate\s+copy\s+05\s+.*would set ID 01\n/);

  const fix = tt(tok, ['fix-ids', tok.module, '--yes']);
  assert.equal(fix.status, 0, fix.stderr);
  assert.match(fix.stdout, /changed 1 CKA_ID\n$/);

  const after = list(tok, 'dup');
  assert.equal(after.rows.length, 1);
  assert.doesNotMatch(after.rows[0], /!/, `in order after the fix: ${after.rows[0]}`);
  assert.equal(assertAgree(tok, 'dup', 'after'), false);
  assert.match(dryRun(tok).stdout, /^token 'dup': 4 objects, every CKA_ID in order; nothing to change\n$/);
});

test('two different certificates of one key under its ID (a renewed one): in order for both', (t) => {
  const tok = makeToken({ setEnv: false, tokens: [{ label: 'renew', keys: [{ kind: 'rsa:2048', id: '01', label: 'k1', cert: { id: '01', subject: '/CN=old' } }] }] });
  t.after(() => tok.cleanup());
  const der = path.join(tok.dir, 'renewed.der');
  execFileSync('openssl', ['req', '-x509', '-new', '-key', tok.keyFiles.k1, '-subj', '/CN=renewed', '-days', '2', '-outform', 'DER', '-out', der], { stdio: 'ignore' });
  tok.pkcs11Tool(['--login', '--pin', tok.pin, '--write-object', der, '--type', 'cert', '--id', '01', '--label', 'renewed']);
  const l = list(tok, 'renew');
  assert.equal(l.rows.length, 1, l.rows.join('\n'));
  assert.doesNotMatch(l.rows[0], /!/);
  assert.equal(assertAgree(tok, 'renew', 'renewed'), false);
});

test('the standard fixture (a certificate under another ID than its key): they agree before and after', (t) => {
  const tok = makeToken({ setEnv: false });
  t.after(() => tok.cleanup());
  assert.ok(assertAgree(tok, 'tt-test', 'before'));
  assert.equal(tt(tok, ['fix-ids', tok.module, '--yes']).status, 0);
  assert.equal(assertAgree(tok, 'tt-test', 'after'), false);
});

test('an empty CKA_ID fix-ids cannot repair (public key unknown): list says so instead of sending the user to fix-ids', (t) => {
  const tok = makeToken({ setEnv: false, tokens: [{ label: 'lone', keys: [{ kind: 'ec:prime256v1', id: '01', label: 'lone', publicObject: false }] }] });
  t.after(() => tok.cleanup());
  assert.equal(setIdByLabel(tok, 'lone', ''), 1);
  const l = list(tok, 'lone');
  assert.equal(l.rows.length, 1);
  assert.match(l.rows[0], /! empty CKA_ID; fix-ids leaves it: its public key is unknown, so no ID can be derived for it/);
  assert.equal(assertAgree(tok, 'lone', 'empty ID, no public part'), false);
  assert.match(dryRun(tok).stdout, /nothing fix-ids can change on token 'lone'; the rows above need a person/);
});

test('shared and empty CKA_IDs: they agree before and after', (t) => {
  const tok = makeToken({
    setEnv: false,
    tokens: [
      {
        label: 'messy',
        keys: [
          { kind: 'ec:prime256v1', id: '01', label: 'alpha' },
          { kind: 'ec:prime256v1', id: '02', label: 'beta' },
          { kind: 'rsa:2048', id: '03', label: 'gamma' },
        ],
      },
    ],
  });
  t.after(() => tok.cleanup());
  setIdByLabel(tok, 'beta', '01');
  setIdByLabel(tok, 'gamma', '');
  assert.ok(assertAgree(tok, 'messy', 'before'));
  assert.equal(tt(tok, ['fix-ids', tok.module, '--yes']).status, 0);
  assert.equal(assertAgree(tok, 'messy', 'after'), false);
});
