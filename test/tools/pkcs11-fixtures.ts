// Token states the provisioning tools cannot make (a key that may not sign, an empty CKA_ID),
// made through PKCS#11 itself. The module is finalized afterwards, so the CLI under test (a
// separate process) and later calls see the token as stored.
import * as pkcs11js from 'pkcs11js';
import type { TestToken } from '../helpers/softhsm';

export function withSession(tok: TestToken, fn: (lib: pkcs11js.PKCS11, session: Buffer) => void): void {
  const previous = process.env.SOFTHSM2_CONF;
  process.env.SOFTHSM2_CONF = tok.conf;
  const lib = new pkcs11js.PKCS11();
  lib.load(tok.module);
  lib.C_Initialize();
  try {
    const slot = lib.C_GetSlotList(true)[0];
    const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    lib.C_Login(session, pkcs11js.CKU_USER, tok.pin);
    fn(lib, session);
    lib.C_CloseSession(session);
  } finally {
    lib.C_Finalize();
    lib.close();
    if (previous === undefined) delete process.env.SOFTHSM2_CONF;
    else process.env.SOFTHSM2_CONF = previous;
  }
}

/** An RSA key pair whose private key has CKA_SIGN false (a decryption-only key). */
export function addDecryptOnlyKey(tok: TestToken, idHex: string, label: string): void {
  withSession(tok, (lib, session) => {
    const id = Buffer.from(idHex, 'hex');
    lib.C_GenerateKeyPair(
      session,
      { mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN },
      [
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_ID, value: id },
        { type: pkcs11js.CKA_LABEL, value: label },
        { type: pkcs11js.CKA_MODULUS_BITS, value: 2048 },
        { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
        { type: pkcs11js.CKA_ENCRYPT, value: true },
        { type: pkcs11js.CKA_VERIFY, value: false },
      ],
      [
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_PRIVATE, value: true },
        { type: pkcs11js.CKA_ID, value: id },
        { type: pkcs11js.CKA_LABEL, value: label },
        { type: pkcs11js.CKA_DECRYPT, value: true },
        { type: pkcs11js.CKA_SIGN, value: false },
      ],
    );
  });
}

/** Sets CKA_ID of every object with this label (all classes) to `idHex` ('' for empty). */
export function setIdByLabel(tok: TestToken, label: string, idHex: string): number {
  let n = 0;
  withSession(tok, (lib, session) => {
    lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_LABEL, value: label }]);
    const handles = lib.C_FindObjects(session, 100);
    lib.C_FindObjectsFinal(session);
    for (const h of handles) {
      lib.C_SetAttributeValue(session, h, [{ type: pkcs11js.CKA_ID, value: Buffer.from(idHex, 'hex') }]);
      n++;
    }
  });
  return n;
}
