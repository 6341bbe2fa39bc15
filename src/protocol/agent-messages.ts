// The agent protocol in one import: message numbers, request and reply codecs, constraints,
// extensions and sign flags. The codecs live in files of their own; this is the front door.
export * from './message-numbers';
export * from './agent-requests';
export * from './agent-responses';
export * from './constraints';
export * from './extensions';
export { SSH_AGENT_RSA_SHA2_256, SSH_AGENT_RSA_SHA2_512 } from './signature';
export { UnsupportedKeyTypeError, type PrivateKeyMaterial } from './private-key';
