// PIN policy from the environment: src/pin/pin-policy.ts (the PIN broker's settings).
export * from '../pin/pin-policy';
