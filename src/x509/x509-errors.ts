// Errors for input a certificate cannot be built from. `field` names the option the value came
// from, so the CLI can say which of the user's arguments to change.
export class CertificateInputError extends Error {
  constructor(
    readonly field: 'subject' | 'days' | 'publicKey' | 'signature',
    message: string,
  ) {
    super(message);
    this.name = 'CertificateInputError';
  }
}
