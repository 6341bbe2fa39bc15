// The `--type` values of `tt-agent keygen`, and CKA_ID values as users read them.
import type { EcCurve } from '../protocol/public-key';

export type KeySpec = { kind: 'rsa'; bits: 2048 | 3072 | 4096 } | { kind: 'ecdsa'; curve: EcCurve } | { kind: 'ed25519' };

export const KEY_TYPES = ['rsa:2048', 'rsa:3072', 'rsa:4096', 'ec:p256', 'ec:p384', 'ec:p521', 'ed25519'] as const;

const SPECS: Record<(typeof KEY_TYPES)[number], KeySpec> = {
  'rsa:2048': { kind: 'rsa', bits: 2048 },
  'rsa:3072': { kind: 'rsa', bits: 3072 },
  'rsa:4096': { kind: 'rsa', bits: 4096 },
  'ec:p256': { kind: 'ecdsa', curve: 'nistp256' },
  'ec:p384': { kind: 'ecdsa', curve: 'nistp384' },
  'ec:p521': { kind: 'ecdsa', curve: 'nistp521' },
  ed25519: { kind: 'ed25519' },
};

/** undefined for anything not in KEY_TYPES (the CLI lists the choices). */
export function parseKeySpec(text: string): KeySpec | undefined {
  return (SPECS as Record<string, KeySpec>)[text.trim().toLowerCase()];
}

export function describeKeySpec(spec: KeySpec): string {
  if (spec.kind === 'rsa') return `RSA-${spec.bits}`;
  if (spec.kind === 'ecdsa') return `ECDSA ${spec.curve.replace('nistp', 'P-')}`;
  return 'Ed25519';
}

/** CKA_ID for display, as `tt-agent list` and pkcs11-tool print it. */
export function formatId(id: Buffer): string {
  return id.length === 0 ? '(empty)' : id.toString('hex');
}
