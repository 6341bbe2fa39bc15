// The talking part of `tt-agent add`: what can be checked before a PIN is asked for, and the
// load request itself. A tt-agent takes the load as add-smartcard@tt-agent and answers a refusal
// with its reason and what to do next (src/hint.ts); any other agent (OpenSSH's) gets the
// standard SSH_AGENTC_ADD_SMARTCARD_KEY.
import { realpath } from 'node:fs/promises';
import type { KeyConstraint } from '../protocol/constraints';
import { AgentClient, queryAgentStatus } from './agent-client';
import { UserError } from './user-error';

const SSH_AGENTC_EXTENSION = 27;
const SSH_AGENT_SUCCESS = 6;

export type AddOutcome = { ok: true } | { ok: false; reason?: string; hint?: string };

/**
 * Refusals the agent would make, found before the PIN prompt: a locked agent, a module outside
 * its allowlist (same words as the agent's own refusal).
 */
export async function preflight(socketPath: string, modulePath: string): Promise<void> {
  const status = await queryAgentStatus<{ locked?: boolean; allowlist?: string[] }>(socketPath, { timeoutMs: 5000 });
  if (!status) return; // not a tt-agent, or a slow one: the load itself will tell
  if (status.locked) {
    throw new UserError('the agent is locked; it adds no keys until unlocked', 'Unlock it with ssh-add -X, then run tt-agent add again.');
  }
  if (!status.allowlist) return;
  const { allowlistPermits } = await import('../agent/allowlist');
  const real = await realpath(modulePath).catch(() => modulePath);
  if (!allowlistPermits(real, status.allowlist)) {
    throw new UserError(
      `module ${real} is not in the agent's allowlist ${status.allowlist.join(',')}`,
      'Start the agent with -P covering that path, or use a module inside the allowlist.',
    );
  }
}

/** Sends the load; the PIN buffer is the caller's to wipe. */
export async function requestAdd(
  client: AgentClient,
  req: { readerId: string; pin: Buffer; constraints: KeyConstraint[] },
  timeoutMs: number,
): Promise<AddOutcome> {
  if (await knowsExtension(client)) {
    const { encodeAddSmartcardRequest, decodeAddSmartcardRefusal } = await import('../protocol/add-smartcard-extension');
    const body = encodeAddSmartcardRequest(req);
    let reply: Buffer;
    try {
      reply = await client.request(body, timeoutMs);
    } finally {
      body.fill(0);
    }
    if (reply[0] === SSH_AGENT_SUCCESS) return { ok: true };
    // Printed to a terminal: the socket's peer need not be our agent, and a module host's words
    // ride in the hint. Controls are shown, not obeyed.
    const { escapeLogText } = await import('../protocol/log-text');
    const refusal = decodeAddSmartcardRefusal(reply);
    return {
      ok: false,
      ...(refusal?.reason !== undefined && { reason: escapeLogText(refusal.reason) }),
      ...(refusal?.hint !== undefined && { hint: escapeLogText(refusal.hint) }),
    };
  }
  const reply = await client.call(
    {
      type: req.constraints.length > 0 ? 'SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED' : 'SSH_AGENTC_ADD_SMARTCARD_KEY',
      ...req,
    },
    'SSH_AGENT_SUCCESS',
    timeoutMs,
  );
  return reply.type === 'SSH_AGENT_SUCCESS' ? { ok: true } : { ok: false };
}

async function knowsExtension(client: AgentClient): Promise<boolean> {
  const { ADD_SMARTCARD_EXTENSION } = await import('../protocol/add-smartcard-extension');
  const { SshWriter } = await import('../protocol/wire');
  const { decodeResponse } = await import('../protocol/agent-messages');
  const { decodeQueryNames } = await import('../protocol/extensions');
  const raw = await client.request(new SshWriter().uint8(SSH_AGENTC_EXTENSION).string('query').toBuffer(), 5000);
  // Any other answer (SSH_AGENT_FAILURE from an agent without "query", or nonsense): not a tt-agent.
  try {
    const reply = decodeResponse(raw);
    if (reply.type !== 'SSH_AGENT_EXTENSION_RESPONSE' || reply.name !== 'query') return false;
    return decodeQueryNames(reply.body).includes(ADD_SMARTCARD_EXTENSION);
  } catch {
    return false;
  }
}
