// The agent's view of a PKCS#11 module lives in src/token-provider/ (the module host's side
// implements it and must not import the agent); re-exported here for the agent's own files.
export type { ProviderFactory, TokenIdentity, TokenLoadReport, TokenProvider } from '../token-provider/provider';
