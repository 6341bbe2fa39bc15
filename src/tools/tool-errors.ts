// Why a token tool cannot go on: one line, and what to do next (src/hint.ts). A hint that
// names the module says MODULE; the command puts in the MODULE|URI the user typed.
import type { Hinted } from '../hint';

export type ToolErrorReason =
  | 'key-not-found' // no private key with that ID or label
  | 'key-ambiguous' // several private keys match
  | 'key-cannot-sign' // CKA_SIGN false
  | 'public-key-unknown' // no public-key object, certificate or readable public part
  | 'certificate-exists' // selfsign without --force
  | 'id-taken' // keygen --id of an existing key
  | 'not-logged-in' // private keys invisible
  | 'certificate-not-stored'; // signed, but the token refused the certificate object

const HINTS: Record<ToolErrorReason, string> = {
  'key-not-found': 'tt-agent list MODULE shows the keys with their IDs and labels.',
  'key-ambiguous': 'Select one with --id HEX (IDs are listed above).',
  'key-cannot-sign': 'Use a key that may sign; tt-agent keygen makes one.',
  'public-key-unknown': 'Import its public key or certificate with the tool that made the key, then run selfsign again.',
  'certificate-exists': 'Add --force to replace it (the new certificate is written before the old one is removed).',
  'id-taken': 'Choose another --id, or leave --id out to get a free one.',
  'not-logged-in': 'Log in with the user PIN (prompt, --pin-source FILE or pin-value in the URI).',
  'certificate-not-stored':
    "The certificate itself was made: save it with --out FILE and import it with the token's own tool (e.g. yubico-piv-tool -a import-certificate).",
};

export class ToolError extends Error implements Hinted {
  readonly hint: string;
  constructor(
    readonly reason: ToolErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'ToolError';
    this.hint = HINTS[reason];
  }
}

/** The certificate was made and verified, but the token would not store it; `cause` says why. */
export class CertificateNotStoredError extends ToolError {
  constructor(
    readonly pem: string,
    readonly keyId: Buffer,
    options: { cause: unknown },
  ) {
    super('certificate-not-stored', 'the token refused to store the certificate');
    this.cause = options.cause;
    this.name = 'CertificateNotStoredError';
  }
}
