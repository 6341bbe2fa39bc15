// Failures SoftHSM cannot produce (it has no write protection, offers every mechanism) read as
// one clear line with a hint. The TokenErrors are built from the real CK_RV numbers.
import test from 'node:test';
import assert from 'node:assert/strict';
import { explainToolError } from '../../src/cli/explain-tools';
import { UserError } from '../../src/cli/user-error';
import { MechanismNotSupportedError, TokenError } from '../../src/pkcs11/errors';

const ctx = { action: 'generate the key pair', command: 'keygen', spec: '/usr/lib/x.so' };
const CASES: [unknown, RegExp, RegExp][] = [
  [new TokenError('C_GenerateKeyPair', 0xe2), /^cannot generate the key pair: the token is write-protected \(CKR_TOKEN_WRITE_PROTECTED\)$/, /write protection/],
  [new TokenError('C_CreateObject', 0x101), /not logged in \(CKR_USER_NOT_LOGGED_IN\)$/, /PIN/],
  [new TokenError('C_GenerateKeyPair', 0x70), /C_GenerateKeyPair returned CKR_MECHANISM_INVALID: the token does not support this$/, /--list-mechanisms/],
  [new TokenError('C_SignInit', 0x68), /CKR_KEY_FUNCTION_NOT_PERMITTED: the key may not do this$/, /tt-agent list/],
  [new TokenError('C_GenerateKeyPair', 0x54), /CKR_FUNCTION_NOT_SUPPORTED: the token or its module does not allow this$/, /yubico-piv-tool/],
  [new MechanismNotSupportedError('CKM_EC_EDWARDS_KEY_PAIR_GEN', 'key generation'), /^cannot generate the key pair: the token does not support CKM_EC_EDWARDS_KEY_PAIR_GEN/, /another key type/],
];
for (const [err, message, hint] of CASES) {
  test(`${(err as Error).message} → one line and a hint`, () => {
    const u = explainToolError(err, ctx);
    assert.ok(u instanceof UserError);
    assert.match(u.message, message);
    assert.ok(!u.message.includes('\n'));
    assert.match(u.hint ?? '', hint);
    assert.notEqual(u.exitCode, 0);
  });
}
