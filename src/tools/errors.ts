// Why a token tool cannot go on, in terms the CLI turns into one line and a hint.
export type ToolErrorReason =
  | 'key-not-found' // no private key with that ID or label
  | 'key-ambiguous' // several private keys match
  | 'key-cannot-sign' // CKA_SIGN false
  | 'public-key-unknown' // no public-key object, certificate or readable public part
  | 'certificate-exists' // selfsign without --force
  | 'id-taken' // keygen --id of an existing key
  | 'not-logged-in'; // private keys invisible

export class ToolError extends Error {
  constructor(
    readonly reason: ToolErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'ToolError';
  }
}
