// add-smartcard@tt-agent (see src/protocol/add-smartcard-extension.ts): the same load as
// SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED, through the same handler, but a refusal is answered
// with its reason so that `tt-agent add` can print it. Only the owner's own local process gets a
// reason: trust.ts answers a connection that has sent session-bind (even a failed one) with a
// bare SSH_AGENT_FAILURE before this handler runs, as for every private extension.
import { decodeAddSmartcardBody, encodeAddSmartcardRefusal, ADD_SMARTCARD_EXTENSION } from '../protocol/add-smartcard-extension';
import type { RequestContext } from './context';
import { addSmartcardKey } from './handle-smartcard';
import { AgentRefusal, describeError, withHint } from './refusal';

export { ADD_SMARTCARD_EXTENSION };

const LOG_NAME = `SSH_AGENTC_EXTENSION ${ADD_SMARTCARD_EXTENSION}`;

export async function addSmartcardWithReason(body: Buffer, ctx: RequestContext): Promise<Buffer> {
  const { core } = ctx;
  try {
    let req;
    try {
      req = decodeAddSmartcardBody(body);
    } catch (err) {
      throw new AgentRefusal(`${ADD_SMARTCARD_EXTENSION} malformed: ${describeError(err)}`);
    }
    const before = core.loadReports.at(-1);
    try {
      return await addSmartcardKey({ type: 'SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED', ...req }, ctx);
    } catch (err) {
      if (!(err instanceof AgentRefusal)) throw err;
      // Logged as dispatch logs any refusal; the client gets the same words.
      core.log(err.level, `${LOG_NAME} refused: ${withHint(err.message, err.hint)}`);
      return encodeAddSmartcardRefusal({ reason: reasonFor(err, core.loadReports, before), hint: err.hint });
    }
  } finally {
    // The body held the PIN (views into the received frame: this wipes the frame too).
    body.fill(0);
  }
}

interface LoadRecord {
  modulePath: string;
  error?: string;
}

/**
 * The refusal as the user should read it. A failed load is logged as "loading MODULE failed:
 * WHY"; the client already names the module, so it gets WHY alone, as recorded for this load.
 */
function reasonFor(err: AgentRefusal, loads: readonly LoadRecord[], before: LoadRecord | undefined): string {
  const since = before ? loads.slice(loads.lastIndexOf(before) + 1) : loads;
  for (const r of [...since].reverse()) {
    if (r.error && err.message === `loading ${r.modulePath} failed: ${r.error}`) return r.error;
  }
  return err.message;
}
