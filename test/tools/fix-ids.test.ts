// tt-agent fix-ids on tokens with mispaired, empty and shared CKA_IDs, judged by pkcs11-tool,
// p11tool and ssh-keygen; a second run must change nothing.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { makeToken, STANDARD_KEYS, type TestToken } from '../helpers/softhsm';
import { setIdByLabel } from './pkcs11-fixtures';
import { assertOneLineError, p11toolObjects, pkcs11ToolObjects, sshKeyPartOfPem, sshKeygenD, tt } from './run';

test('the standard fixture: the certificate under ID 21 moves to its key, ID 20', async (t) => {
  const tok = makeToken({ setEnv: false });
  t.after(() => tok.cleanup());
  const certOf = (label: string) => pkcs11ToolObjects(tok).find((o) => o.type === 'cert' && o.label === label)!;
  assert.equal(certOf('mismatch-cert').id, '21');

  const dry = tt(tok, ['fix-ids', tok.module, '--dry-run']);
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(dry.stdout, /^OBJECT\s+LABEL\s+ID\s+PROBLEM\s+ACTION\n/);
  assert.match(dry.stdout, /\ncertificate\s+mismatch-cert\s+21\s+CKA_ID 21 matches no private key\s+would set ID 20\n/);
  assert.match(dry.stdout, /would change 1 CKA_ID; run without --dry-run to apply/);
  assert.equal(dry.stdout.split('\n').filter((l) => /would set/.test(l)).length, 1, dry.stdout);
  assert.equal(certOf('mismatch-cert').id, '21', '--dry-run changed nothing');

  const noTty = tt(tok, ['fix-ids', tok.module], { noTerminal: true });
  assertOneLineError(noTty, /no terminal to confirm on/);
  assert.match(noTty.stderr, /--yes/);
  assert.equal(noTty.status, 2);
  assert.equal(certOf('mismatch-cert').id, '21', 'refusal changed nothing');

  const fix = tt(tok, ['fix-ids', tok.module, '--yes']);
  assert.equal(fix.status, 0, fix.stderr);
  assert.match(fix.stdout, /\ncertificate\s+mismatch-cert\s+21\s+.*set ID 20\n/);
  assert.match(fix.stdout, /changed 1 CKA_ID\n$/);

  // Independent readers agree: key, public key and certificate under 20, nothing left under 21.
  const byPkcs11Tool = pkcs11ToolObjects(tok).filter((o) => o.id === '20').map((o) => o.type).sort();
  assert.deepEqual(byPkcs11Tool, ['cert', 'privkey', 'pubkey']);
  assert.equal(pkcs11ToolObjects(tok).filter((o) => o.id === '21').length, 0);
  const byP11tool = p11toolObjects(tok).filter((o) => o.id === '20').map((o) => o.type).sort();
  assert.deepEqual(byP11tool, ['cert', 'private', 'public']);
  const key = sshKeyPartOfPem(tok, tok.keyFiles.mismatch, 'private');
  assert.ok(sshKeygenD(tok).includes(key), 'ssh-keygen -D lists the key');

  const again = tt(tok, ['fix-ids', tok.module, '--yes']);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /every CKA_ID in order; nothing to change\n$/);
});

test('empty and shared CKA_IDs: each private key gets its own, its public key follows; second run changes nothing', async (t) => {
  const tok = makeToken({
    setEnv: false,
    tokens: [
      {
        label: 'messy',
        keys: [
          { kind: 'ec:prime256v1', id: '01', label: 'alpha' },
          { kind: 'ec:prime256v1', id: '02', label: 'beta' },
          { kind: 'rsa:2048', id: '03', label: 'gamma' },
          { kind: 'ed25519', id: '04', label: 'delta' },
        ],
      },
    ],
  });
  t.after(() => tok.cleanup());
  // alpha and beta end up sharing ID 01; gamma's key and public key have an empty ID.
  assert.equal(setIdByLabel(tok, 'beta', '01'), 2);
  assert.equal(setIdByLabel(tok, 'gamma', ''), 2);
  const before = pkcs11ToolObjects(tok);
  assert.ok(before.filter((o) => o.label === 'gamma').every((o) => o.id === ''));

  const fix = tt(tok, ['fix-ids', tok.module, '--yes']);
  assert.equal(fix.status, 0, fix.stderr);
  assert.match(fix.stdout, /private key\s+alpha\s+01\s+CKA_ID 01 is shared by 2 private keys\s+set ID [0-9a-f]{40}\n/);
  assert.match(fix.stdout, /private key\s+gamma\s+\(empty\)\s+empty CKA_ID\s+set ID [0-9a-f]{40}\n/);
  assert.match(fix.stdout, /changed 6 CKA_IDs\n$/);

  const after = pkcs11ToolObjects(tok);
  const privIds = after.filter((o) => o.type === 'privkey').map((o) => o.id);
  assert.equal(new Set(privIds).size, privIds.length, `private key IDs unique: ${privIds}`);
  assert.ok(privIds.every((id) => id !== ''));
  for (const label of ['alpha', 'beta', 'gamma', 'delta']) {
    const ids = after.filter((o) => o.label === label).map((o) => o.id);
    assert.equal(ids.length, 2);
    assert.equal(ids[0], ids[1], `${label}: private and public key share an ID`);
  }
  assert.equal(after.find((o) => o.label === 'delta')!.id, '04', 'an untroubled key is left alone');
  const gnutls = p11toolObjects(tok);
  for (const label of ['alpha', 'beta', 'gamma']) {
    const ids = gnutls.filter((o) => o.label === label).map((o) => o.id);
    assert.equal(new Set(ids).size, 1, `${label} per p11tool: ${ids}`);
  }

  const again = tt(tok, ['fix-ids', tok.module, '--yes']);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /nothing to change\n$/);
  assert.deepEqual(pkcs11ToolObjects(tok), after);
});

test('fix-ids with a wrong PIN: one line, nothing changed', async (t) => {
  const tok = makeToken({ setEnv: false });
  t.after(() => tok.cleanup());
  const bad = `${tok.dir}/bad-pin`;
  fs.writeFileSync(bad, '999999\n');
  const r = tt(tok, ['fix-ids', tok.module, '--yes', '--pin-source', bad], { pin: false });
  assertOneLineError(r, /PIN incorrect for token 'tt-test'/);
  assert.equal(pkcs11ToolObjects(tok).find((o) => o.label === 'mismatch-cert')!.id, '21');
});
