// The agent's only view of a PKCS#11 module. The agent never imports the PKCS#11 binding:
// a provider (normally the per-module host process) owns the module, and the agent hands it
// PINs and data to sign. Tests and the soft-key path never need one.
import type { PublicKey } from '../protocol/public-key';

export interface TokenIdentity {
  blob: Buffer;
  publicKey: PublicKey;
  comment: string;
  token: string /* label */;
}

export interface TokenLoadReport {
  token: string;
  serial: string;
  added: number;
  error?: { ckr?: string; message: string };
}

export interface TokenProvider {
  readonly modulePath: string; // realpath
  load(pin: Buffer | null, uri?: string): Promise<{ identities: TokenIdentity[]; report: TokenLoadReport[] }>;
  sign(blob: Buffer, data: Buffer, flags: number): Promise<Buffer>; // SSH signature blob
  status(): Promise<unknown>;
  close(): Promise<void>;
}

export type ProviderFactory = (modulePath: string) => TokenProvider;
