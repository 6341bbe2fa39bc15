// Turns the key constraints of an ADD_ID_CONSTRAINED / ADD_SMARTCARD_KEY_CONSTRAINED request
// into what the identity table enforces. A constraint the agent cannot honour refuses the
// whole add: silently dropping a restriction would widen what the key may do.
import type { DestinationConstraint, KeyConstraint } from '../protocol/constraints';
import type { IdentityConstraints } from './identities';
import { AgentRefusal } from './refusal';

export function toIdentityConstraints(list: readonly KeyConstraint[], defaultLifetime: number | undefined): IdentityConstraints {
  let lifetime: number | undefined;
  let confirm = false;
  let destinations: DestinationConstraint[] = [];
  for (const c of list) {
    switch (c.kind) {
      case 'lifetime':
        lifetime = c.seconds;
        break;
      case 'confirm':
        confirm = true;
        break;
      case 'restrict-destination':
        destinations = c.constraints.map(copyConstraint);
        break;
      case 'maxsign':
        throw new AgentRefusal('maximum-signatures constraint (XMSS keys) is not supported');
      case 'associated-certs':
        // Only token keys take certificates this way (PROTOCOL.agent); handle-smartcard takes it out first.
        throw new AgentRefusal('associated-certs-v00@openssh.com is only valid when adding token keys');
      case 'sk-provider':
        throw new AgentRefusal('security keys (sk-provider@openssh.com) are not supported');
    }
  }
  // As OpenSSH's parse_key_constraints: an explicit lifetime counts from now, even 0 (the key
  // expires at once: ssh-agent -t cannot be overridden to "forever"); without one, the agent's
  // default lifetime applies, 0 or unset meaning none.
  if (lifetime === undefined && defaultLifetime) lifetime = defaultLifetime;
  return {
    expiresAt: lifetime !== undefined ? Date.now() + lifetime * 1000 : undefined,
    confirm,
    destinations,
  };
}

// Decoded blobs are views into the request body, which is wiped after the request.
function copyConstraint(d: DestinationConstraint): DestinationConstraint {
  const hop = (h: DestinationConstraint['from']) => ({
    user: h.user,
    hostname: h.hostname,
    keys: h.keys.map((k) => ({ keyBlob: Buffer.from(k.keyBlob), isCa: k.isCa })),
  });
  return { from: hop(d.from), to: hop(d.to) };
}

/** Short description of the constraints for log lines. */
export function describeConstraints(c: IdentityConstraints): string {
  const parts: string[] = [];
  if (c.expiresAt !== undefined) parts.push(`lifetime ${Math.round((c.expiresAt - Date.now()) / 1000)}s`);
  if (c.confirm) parts.push('confirm');
  if (c.destinations.length > 0) parts.push(`${c.destinations.length} destination constraint(s)`);
  return parts.length ? ` [${parts.join(', ')}]` : '';
}
