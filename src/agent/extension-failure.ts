// SSH_AGENT_EXTENSION_FAILURE (RFC 9987 section 5.8; OpenSSH 10's process_extension): an
// extension the agent knows that fails answers 28, so a client can tell "this agent does not
// speak that extension" (SSH_AGENT_FAILURE) from "it tried and it failed".
import { hintOf } from '../hint';
import { AgentRefusal, describeError } from './refusal';

export class ExtensionFailure extends AgentRefusal {
  constructor(message: string, level: AgentRefusal['level'] = 'warn', hint?: string) {
    super(message, level, hint);
    this.name = 'ExtensionFailure';
  }
}

/** Runs a known extension's handler; any refusal or error from it becomes an ExtensionFailure. */
export async function asKnownExtension(run: () => Buffer | Promise<Buffer>): Promise<Buffer> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof ExtensionFailure) throw err;
    if (err instanceof AgentRefusal) throw new ExtensionFailure(err.message, err.level, err.hint);
    throw new ExtensionFailure(describeError(err), 'error', hintOf(err));
  }
}
