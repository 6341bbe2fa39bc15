import type { AgentRequest } from '../protocol/agent-requests';
import type { AgentCore } from './core';
import type { ConnectionState } from './session';

/** What every request handler gets: the shared agent state and the connection it came on. */
export interface RequestContext {
  core: AgentCore;
  conn: ConnectionState;
}

/** The request variant(s) with this type name, e.g. RequestOf<'SSH_AGENTC_LOCK'>. */
export type RequestOf<T extends AgentRequest['type']> = AgentRequest extends infer R
  ? R extends { type: infer U }
    ? T extends U
      ? R & { type: T }
      : never
    : never
  : never;
