// tt-agent pubkey against a fresh SoftHSM token, judged by ssh-keygen -D, pkcs11-tool and openssl.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeToken, type TestToken } from '../helpers/softhsm';
import { runCli } from './pubkey-run';

// SubjectPublicKeyInfo header of an Ed25519 key (RFC 8410): SEQUENCE, AlgorithmIdentifier 1.3.101.112, BIT STRING.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

let tok: TestToken;
test.before(() => {
  tok = makeToken({ setEnv: false });
});
test.after(() => tok.cleanup());

const keyPart = (line: string) => line.split(' ').slice(0, 2).join(' ');
const lines = (s: string) => s.split('\n').filter((l) => l !== '');

function pubkey(args: string[] = []): string[] {
  const r = runCli(['pubkey', tok.module, ...args], tok.env);
  assert.equal(r.status, 0, r.stderr);
  return lines(r.stdout);
}

/** One key's authorized_keys key part, read by pkcs11-tool and converted by ssh-keygen. */
function independentKeyPart(type: 'pubkey' | 'cert', idHex: string): string {
  const out = path.join(tok.dir, `read-${type}-${idHex}`);
  tok.pkcs11Tool(['--read-object', '--type', type, '--id', idHex, '-o', out]);
  let pem = fs.readFileSync(out);
  if (type === 'cert') {
    pem = execFileSync('openssl', ['x509', '-inform', 'DER', '-in', out, '-pubkey', '-noout']);
  } else if (!pem.subarray(0, 10).toString().startsWith('-----')) {
    pem = execFileSync('openssl', ['pkey', '-pubin', '-inform', 'DER', '-in', out]);
  }
  fs.writeFileSync(`${out}.pem`, pem);
  const der = execFileSync('openssl', ['pkey', '-pubin', '-in', `${out}.pem`, '-outform', 'DER']);
  if (der.length === 44 && der.subarray(0, 12).equals(ED25519_SPKI_PREFIX)) {
    // OpenSSH 9.2's ssh-keygen -i cannot convert Ed25519; the blob is simple enough to spell out
    // (RFC 8709: string "ssh-ed25519", string key).
    const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
    return `ssh-ed25519 ${Buffer.concat([str(Buffer.from('ssh-ed25519')), str(der.subarray(12))]).toString('base64')}`;
  }
  return keyPart(execFileSync('ssh-keygen', ['-i', '-m', 'PKCS8', '-f', `${out}.pem`], { encoding: 'utf8' }).trim());
}

test('RSA and ECDSA key parts are byte-identical to ssh-keygen -D', () => {
  const ours = pubkey();
  const theirs = lines(execFileSync('ssh-keygen', ['-D', tok.module], { env: tok.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  const theirKeys = new Set(theirs.map(keyPart));
  const ourNonEd = new Set(ours.map(keyPart).filter((k) => !k.startsWith('ssh-ed25519 ')));
  // OpenSSH 9.2 lists RSA-2048/3072, P-256/384/521, the certificate-only RSA key and the mismatch key.
  assert.equal(theirKeys.size, 7);
  assert.deepEqual([...ourNonEd].sort(), [...theirKeys].sort());
});

test('every key is printed once, with the comment ssh-keygen -D gives it', () => {
  const ours = pubkey();
  // The public-key object's label; for the key known only through its certificate, the
  // certificate's subject as OpenSSH writes it.
  assert.deepEqual(
    ours.map((l) => l.split(' ').slice(2).join(' ')),
    ['rsa2048', 'rsa3072', 'p256', 'p384', 'p521', 'ed25519', '/CN=cert-only', 'mismatch'],
  );
  assert.equal(new Set(ours.map(keyPart)).size, ours.length);
  const theirs = lines(execFileSync('ssh-keygen', ['-D', tok.module], { env: tok.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  assert.deepEqual(
    ours.filter((l) => !l.startsWith('ssh-ed25519 ')).sort(),
    [...theirs].sort(),
  );
});

test('Ed25519 line matches the public key read by pkcs11-tool', () => {
  const ed = pubkey(['--id', '06']);
  assert.equal(ed.length, 1);
  assert.match(ed[0], /^ssh-ed25519 \S+ ed25519$/);
  assert.equal(keyPart(ed[0]), independentKeyPart('pubkey', '06'));
});

test('a key known only through its certificate matches the certificate', () => {
  const [line] = pubkey(['--label', 'cert-only']);
  assert.equal(keyPart(line), independentKeyPart('cert', '10'));
  assert.match(line, / \/CN=cert-only$/);
});

test('--fingerprint prints what ssh-keygen -l prints for the same keys', () => {
  const ours = pubkey();
  const fp = pubkey(['--fingerprint']);
  const file = path.join(tok.dir, 'keys.pub');
  fs.writeFileSync(file, ours.join('\n') + '\n');
  const judge = lines(execFileSync('ssh-keygen', ['-l', '-f', file], { encoding: 'utf8' }));
  assert.deepEqual(fp, judge);
});

test('--format pem gives the SubjectPublicKeyInfo openssl reads back', () => {
  const r = runCli(['pubkey', tok.module, '--id', '03', '--format', 'pem'], tok.env);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^-----BEGIN PUBLIC KEY-----\n/);
  const file = path.join(tok.dir, 'p256.pem');
  fs.writeFileSync(file, r.stdout);
  const viaSsh = keyPart(execFileSync('ssh-keygen', ['-i', '-m', 'PKCS8', '-f', file], { encoding: 'utf8' }).trim());
  assert.equal(viaSsh, keyPart(pubkey(['--id', '03'])[0]));
});

test('a pkcs11: URI selects by id, object and type', () => {
  const byId = runCli(['pubkey', `pkcs11:token=tt-test;id=%04?module-path=${tok.module}`], tok.env);
  assert.equal(byId.status, 0, byId.stderr);
  assert.deepEqual(lines(byId.stdout).map((l) => l.split(' ')[2]), ['p384']);
  const byObject = runCli(['pubkey', `pkcs11:object=p521;type=public?module-path=${tok.module}`], tok.env);
  assert.deepEqual(lines(byObject.stdout).map((l) => l.split(' ')[2]), ['p521']);
  const certs = runCli(['pubkey', `pkcs11:type=cert?module-path=${tok.module}`], tok.env);
  assert.deepEqual(lines(certs.stdout).map((l) => l.split(' ')[2]), ['/CN=cert-only', 'mismatch']);
});

test('the p11-kit module name softhsm2 works like the path', () => {
  const r = runCli(['pubkey', 'softhsm2', '--id', '01'], tok.env);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(lines(r.stdout), pubkey(['--id', '01']));
});

test('without MODULE, TT_AGENT_MODULE is used and named on stderr', () => {
  const r = runCli(['pubkey', '--id', '05'], { ...tok.env, TT_AGENT_MODULE: tok.module });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /using PKCS#11 module \/usr\/lib\/softhsm\/libsofthsm2\.so \(from TT_AGENT_MODULE\)/);
  assert.equal(lines(r.stdout).length, 1);
});

test('a selection that matches nothing fails and says so', () => {
  const r = runCli(['pubkey', tok.module, '--id', '99'], tok.env);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no matching public key on token 'tt-test'/);
});

test('a module with two tokens prints both; token= picks one', () => {
  const two = makeToken({ tokens: 'twoTokens', setEnv: false });
  try {
    const all = runCli(['pubkey', two.module], two.env);
    assert.equal(all.status, 0, all.stderr);
    // in slot order, which SoftHSM derives from the serial: compare as a set
    assert.deepEqual(lines(all.stdout).map((l) => l.split(' ')[2]).sort(), ['first-p256', 'second-p256']);
    const one = runCli(['pubkey', `pkcs11:token=second?module-path=${two.module}`], two.env);
    assert.deepEqual(lines(one.stdout).map((l) => l.split(' ')[2]), ['second-p256']);
  } finally {
    two.cleanup();
  }
});
