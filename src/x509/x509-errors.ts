// Errors for input a certificate cannot be built from. `field` names the option the value came
// from; the hint (src/hint.ts) says which of the user's arguments to change.
import type { Hinted } from '../hint';

type Field = 'subject' | 'days' | 'publicKey' | 'signature';

const HINTS: Record<Field, string> = {
  subject: 'Write it like "CN=alice,O=Example" (RFC 4514; escape , + " \\ < > ; with a backslash).',
  days: 'Give how long the certificate is valid, e.g. --days 365.',
  publicKey: 'tt-agent list MODULE shows what the token knows about the key.',
  signature: "The token's objects may be mispaired; tt-agent fix-ids MODULE --dry-run shows how.",
};

export class CertificateInputError extends Error implements Hinted {
  readonly hint: string;
  /** --subject and --days are the user's own words: a usage error. */
  readonly usage: boolean;
  constructor(
    readonly field: Field,
    message: string,
  ) {
    // A signature that does not verify stops the certificate before anything is stored.
    super(field === 'signature' ? `nothing was written: ${message}` : message);
    this.name = 'CertificateInputError';
    this.hint = HINTS[field];
    this.usage = field === 'subject' || field === 'days';
  }
}
