
import type { AgentCore } from './core';
import type { ConnectionState } from './connection-state';

/** What every request handler gets: the shared agent state and the connection it came on. */
export interface RequestContext {
  core: AgentCore;
  conn: ConnectionState;
}

export type { RequestOf } from '../protocol/agent-requests';
