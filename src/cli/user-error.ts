// An error the CLI itself finds (a bad option, an agent that refuses without a reason): what went
// wrong, what to do next (src/hint.ts), and the exit status. Other layers throw their own typed
// errors with their own hint; src/cli/report.ts prints both the same way.
import type { Hinted } from '../hint';

export class UserError extends Error implements Partial<Hinted> {
  constructor(
    message: string,
    /** One short sentence: what the user can try next. */
    readonly hint?: string,
    /** Process exit status; 1 unless a command documents another (2: usage). */
    readonly exitCode = 1,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UserError';
  }
}
