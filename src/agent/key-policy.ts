// Keys the agent will not hold, from a file or a token: RSA below OpenSSH's
// SSH_RSA_MINIMUM_MODULUS_SIZE (1024 bits), which sshd refuses anyway and which can be
// factored by anyone who tries.
import { keyBits, type PublicKey } from '../protocol/public-key';

export const SSH_RSA_MINIMUM_MODULUS_SIZE = 1024;

/** Why the agent refuses this key, or undefined. */
export function refusedKey(pk: PublicKey): string | undefined {
  if (pk.kind === 'rsa' && keyBits(pk) < SSH_RSA_MINIMUM_MODULUS_SIZE) {
    return `RSA key of ${keyBits(pk)} bits is below the ${SSH_RSA_MINIMUM_MODULUS_SIZE}-bit minimum`;
  }
  return undefined;
}
