// Errors the CLI turns into one line: what went wrong, then what to do next.
// Library code throws its own typed errors (TokenError, WireError, ...); the explainers that
// report.ts holds map those to a UserError-shaped sentence.
export class UserError extends Error {
  constructor(
    message: string,
    /** One short sentence: what the user can try next. */
    readonly hint?: string,
    /** Process exit status; 1 unless a command documents another. */
    readonly exitCode = 1,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UserError';
  }
}
