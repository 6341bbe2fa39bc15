// The agent layer's front door: the socket server and the provider interface tokens plug into.
export { createAgent, type Agent, type CreateAgentOptions } from './server';
export type { TokenIdentity, TokenLoadReport, TokenProvider, ProviderFactory } from './provider';
export { DEFAULT_ALLOWLIST, parseAllowlist, allowlistPermits, checkModule } from './allowlist';
export { parseLifetime } from './lifetime';
export { STATUS_EXTENSION, type AgentStatus } from './status';
export type { AgentLog, LogLevel } from './log';
