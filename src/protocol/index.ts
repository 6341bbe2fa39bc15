// Public API of the pure SSH wire and agent protocol layer.
export * from './wire';
export * from './public-key';
export * from './curves';
export * from './key-blob';
export * from './authorized-keys';
export * from './fingerprint';
export * from './signature';
export * from './ecdsa-der';
export * from './jwk';
export * from './verify';
export * from './private-key';
export * from './agent-messages';
export * from './framing';
