// After a module host loaded tokens: the broker learns which tokens this module serves (so
// the host may later ask for their PINs, and no other module may) and that they are present,
// keeps the PIN each token accepted, and checks a PIN given for a token that was already
// logged in — C_Login was not run for it, so only the broker can tell that PIN was wrong.
// A load run again (after a restart, or for a key the host had not got) claims nothing: it
// keeps only tokens this module already serves alone, so a token named for the first time
// then — another module's, or one no module holds now — gets neither keys nor a PIN.
import type { PinBroker } from '../pin/broker';
import type { TokenRef } from '../pin/token-ref';
import type { TokenLoadReport } from '../token-provider/provider';
import type { HostIdentity, LoadResult } from './messages';

export function keepLoadPin(
  broker: PinBroker,
  owner: string,
  result: LoadResult,
  pin: Buffer | null,
  kind: 'add' | 'replay' = 'add',
): { identities: HostIdentity[]; report: TokenLoadReport[] } {
  const refused = new Set<string>();
  const report: TokenLoadReport[] = [];
  for (const line of result.report) {
    const ref: TokenRef = { label: line.token, serial: line.serial };
    const out: TokenLoadReport = { token: line.token, serial: line.serial, added: line.added };
    if (line.error) out.error = line.error;
    report.push(out);
    if (kind === 'replay' ? !broker.serves(owner, ref) : !broker.claim(owner, ref)) {
      refused.add(line.token);
      out.added = 0;
      out.error = {
        message:
          kind === 'replay'
            ? `token ${line.token} (serial ${line.serial}) is not one this module was added with; tt-agent add it to use it`
            : `token ${line.token} (serial ${line.serial}) is also reported by another loaded module; remove one of them`,
      };
      continue;
    }
    // Found by this load, so it is in its reader: a host replaced while the token was out never
    // says it came back, and the broker's absence clock would forget its PIN meanwhile.
    broker.tokenPresent(ref);
    if (!pin || pin.length === 0) continue;
    if (line.alreadyLoggedIn && broker.has(ref) && !broker.holds(ref, pin)) {
      refused.add(line.token);
      out.added = 0;
      out.error = {
        ckr: 'CKR_USER_ALREADY_LOGGED_IN',
        message: `token ${line.token} is already logged in with a different PIN; run tt-agent remove for the module first to log in with another PIN`,
      };
    } else if (line.pinAccepted) {
      broker.keep(owner, ref, pin);
    }
  }
  return { identities: result.identities.filter((i) => !refused.has(i.token)), report };
}
