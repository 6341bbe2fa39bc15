// Failures SoftHSM cannot produce (it has no write protection, offers every mechanism) read as
// one clear line with a hint: the line says what the command was doing, the hint is the error's
// own with the MODULE as typed. The TokenErrors are built from the real CK_RV numbers.
import test from 'node:test';
import assert from 'node:assert/strict';
import { inToolContext } from '../../src/cli/tool-context';
import { UserError } from '../../src/cli/user-error';
import { MechanismNotSupportedError, TokenError } from '../../src/pkcs11/errors';
import { ToolError } from '../../src/tools/tool-errors';
import { CertificateInputError } from '../../src/x509/x509-errors';

const ctx = { action: 'generate the key pair', command: 'keygen', spec: '/usr/lib/x.so' };
const CASES: [unknown, RegExp, RegExp, number][] = [
  [new TokenError('C_GenerateKeyPair', 0xe2), /^cannot generate the key pair: C_GenerateKeyPair returned CKR_TOKEN_WRITE_PROTECTED$/, /write-protected: lift/, 1],
  [new TokenError('C_CreateObject', 0x101), /C_CreateObject returned CKR_USER_NOT_LOGGED_IN$/, /Not logged in: log in with the user PIN/, 1],
  [new TokenError('C_GenerateKeyPair', 0x70), /C_GenerateKeyPair returned CKR_MECHANISM_INVALID$/, /does not support this: pkcs11-tool --list-mechanisms/, 1],
  [new TokenError('C_SignInit', 0x68), /CKR_KEY_FUNCTION_NOT_PERMITTED$/, /^The key may not do this: tt-agent list \/usr\/lib\/x\.so shows/, 1],
  [new TokenError('C_GenerateKeyPair', 0x54), /CKR_FUNCTION_NOT_SUPPORTED$/, /does not allow this: .*yubico-piv-tool/, 1],
  [new MechanismNotSupportedError('CKM_EC_EDWARDS_KEY_PAIR_GEN', 'key generation'), /^cannot generate the key pair: the token does not support CKM_EC_EDWARDS_KEY_PAIR_GEN/, /another key type/, 1],
  [new ToolError('key-not-found', 'no private key with ID 01 on the token'), /^no private key with ID 01 on the token$/, /^tt-agent list \/usr\/lib\/x\.so shows the keys/, 1],
  [new CertificateInputError('subject', 'malformed subject "x"'), /^malformed subject "x"$/, /RFC 4514/, 2],
  [new CertificateInputError('signature', 'the signature does not verify'), /^nothing was written: the signature does not verify$/, /tt-agent fix-ids \/usr\/lib\/x\.so --dry-run/, 1],
];
for (const [err, message, hint, exitCode] of CASES) {
  test(`${(err as Error).message} → one line and a hint`, () => {
    const u = inToolContext(err, ctx);
    assert.ok(u instanceof UserError);
    assert.match(u.message, message);
    assert.ok(!u.message.includes('\n'));
    assert.match(u.hint ?? '', hint);
    assert.equal(u.exitCode, exitCode);
    assert.equal(u.cause, err);
  });
}

test('a spec that is no shell word is quoted in the hint', () => {
  const u = inToolContext(new ToolError('key-not-found', 'no key'), { ...ctx, spec: 'pkcs11:token=My Token' }) as UserError;
  assert.equal(u.hint, "tt-agent list 'pkcs11:token=My Token' shows the keys with their IDs and labels.");
});

test('an error without a hint (a bug) is passed on untouched, for report.ts to call it one', () => {
  const bug = new TypeError('x is undefined');
  assert.equal(inToolContext(bug, ctx), bug);
});
