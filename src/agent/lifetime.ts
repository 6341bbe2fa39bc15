// ssh-agent time formats: src/protocol/lifetime.ts (pure; the PIN policy reads them too).
export { parseLifetime } from '../protocol/lifetime';
