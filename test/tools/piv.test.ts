// keygen and selfsign on the emulated PIV card (../shared/vcard) through OpenSC: keygen is
// refused in one line as on real PIV cards; selfsign signs with the card's keys (the 9c key needs
// a context-specific login per signature) and, since OpenSC will not store certificates on a PIV
// card, hands the certificate over through --out. Needs root (the kit starts pcscd) and must not
// run alongside another test that uses the card.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BIN } from '../cli/pubkey-run';
import { assertVcardPackages, lockVcard, waitForVpcdPort } from '../helpers/vcard';
import { assertOneLineError, openssl } from './run';

const KIT = path.resolve(__dirname, '../../../shared/vcard/vcard');
const skip = !fs.existsSync(KIT)
  ? `no emulated PIV card kit at ${KIT}`
  : process.getuid?.() !== 0
    ? 'the PIV card emulation needs root (it starts pcscd)'
    : false;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tt-piv-'));
const env = { ...process.env, VCARD_DIR: path.join(dir, 'vcard'), VCARD_PROVISION: 'preload' };
let module = '';
const pinFile = path.join(dir, 'pin');

// One pcscd per machine: the card lock keeps other card tests out while this file runs.
let release: (() => void) | undefined;
test.before(async () => {
  if (skip) return;
  assertVcardPackages();
  release = await lockVcard();
  await waitForVpcdPort();
  execFileSync(KIT, ['up'], { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
  module = /OPENSC_MODULE=([^;]+);/.exec(execFileSync(KIT, ['env'], { env, encoding: 'utf8' }))![1];
  fs.writeFileSync(pinFile, '123456\n');
});
test.after(() => {
  if (!skip) spawnSync(KIT, ['down'], { env, stdio: 'ignore', timeout: 30_000 });
  fs.rmSync(dir, { recursive: true, force: true });
  release?.();
});

function tt(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('keygen on a PIV card: one clear line, before any PIN is asked', { skip }, () => {
  const r = tt(['keygen', module, '--type', 'ec:p256']);
  assertOneLineError(r, /cannot generate keys through PKCS#11 \(it offers no key-pair generation mechanism\)/);
  assert.match(r.stderr, /yubico-piv-tool -a generate/);
});

for (const [id, what, sigalg] of [
  ['01', 'RSA key in slot 9a', 'sha256WithRSAEncryption'],
  ['02', 'P-256 key in slot 9c (CKA_ALWAYS_AUTHENTICATE)', 'ecdsa-with-SHA256'],
] as const) {
  test(`selfsign with the ${what}: signed by the card, verified by openssl, saved through --out`, { skip }, () => {
    const out = path.join(dir, `piv-${id}.pem`);
    const r = tt(['selfsign', module, '--id', id, '--force', '--subject', `CN=piv ${id}`, '--out', out, '--pin-source', pinFile]);
    assertOneLineError(r, /C_CreateObject returned CKR_FUNCTION_NOT_SUPPORTED.*; the signed certificate was written to .* only$/);
    assert.match(r.stderr, /yubico-piv-tool -a import-certificate/);
    assert.match(openssl(['x509', '-in', out, '-noout', '-text']), new RegExp(`Signature Algorithm: ${sigalg}`));
    assert.equal(openssl(['verify', '-CAfile', out, out]).trim(), `${out}: OK`);
    // The certificate holds the card's key: the same one ssh-keygen -D reads from the card.
    const spki = execFileSync('openssl', ['x509', '-in', out, '-pubkey', '-noout']);
    fs.writeFileSync(`${out}.spki`, spki);
    const fromCert = execFileSync('ssh-keygen', ['-i', '-m', 'PKCS8', '-f', `${out}.spki`], { encoding: 'utf8' }).trim();
    const onCard = spawnSync('ssh-keygen', ['-D', module], { env, encoding: 'utf8' }).stdout;
    assert.ok(onCard.includes(fromCert), `${fromCert} not in\n${onCard}`);
  });
}
