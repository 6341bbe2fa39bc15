// Why a token tool cannot go on, in terms the CLI turns into one line and a hint.
export type ToolErrorReason =
  | 'key-not-found' // no private key with that ID or label
  | 'key-ambiguous' // several private keys match
  | 'key-cannot-sign' // CKA_SIGN false
  | 'public-key-unknown' // no public-key object, certificate or readable public part
  | 'certificate-exists' // selfsign without --force
  | 'id-taken' // keygen --id of an existing key
  | 'not-logged-in' // private keys invisible
  | 'certificate-not-stored'; // signed, but the token refused the certificate object

export class ToolError extends Error {
  constructor(
    readonly reason: ToolErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'ToolError';
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
