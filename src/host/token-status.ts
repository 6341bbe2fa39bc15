// A module host's token as `tt-agent status` shows it.
import { fingerprintSha256 } from '../protocol/fingerprint';
import { CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED, type Token } from '../pkcs11/token';
import type { HostToken } from './host-token';
import type { TokenStatus } from './messages';

// The CK_TOKEN_INFO PIN flags, spelled out for status as the spec names them.
const PIN_FLAGS: [number, string][] = [
  [CKF_USER_PIN_COUNT_LOW, 'CKF_USER_PIN_COUNT_LOW'],
  [CKF_USER_PIN_FINAL_TRY, 'CKF_USER_PIN_FINAL_TRY'],
  [CKF_USER_PIN_LOCKED, 'CKF_USER_PIN_LOCKED'],
];

export function tokenStatus(t: HostToken): TokenStatus {
  const info = t.token.info;
  const s: TokenStatus = {
    token: t.label,
    serial: t.serial,
    slot: slotNumber(t.token),
    present: t.present,
    loggedIn: t.login === 'logged-in',
    flags: info.flags,
    pinState: PIN_FLAGS.filter(([flag]) => (info.flags & flag) !== 0).map(([, name]) => name),
    keys: t.keys.length,
    keyList: t.keys.map((k) => ({
      fingerprint: fingerprintSha256(k.blob),
      id: k.id.toString('hex'),
      label: k.label,
      problems: k.pair?.problems ?? [],
    })),
    sessions: t.pool.sessions,
  };
  if (t.lastError) s.lastError = t.lastError;
  return s;
}

/** CK_SLOT_ID as a number (the binding hands it out as a native-endian CK_ULONG buffer). */
function slotNumber(t: Token): number {
  const b = t.slot.slotId;
  return b.length === 8 ? Number(b.readBigUInt64LE(0)) : b.readUInt32LE(0);
}
