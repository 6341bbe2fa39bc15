// Key constraints that follow the key in SSH_AGENTC_ADD_ID_CONSTRAINED and
// SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED (RFC 9987 section 5.2.7, OpenSSH PROTOCOL.agent):
//   byte SSH_AGENT_CONSTRAIN_LIFETIME  / uint32 seconds
//   byte SSH_AGENT_CONSTRAIN_CONFIRM
//   byte SSH_AGENT_CONSTRAIN_MAXSIGN   / uint32 max_signatures
//   byte SSH_AGENT_CONSTRAIN_EXTENSION / string name / extension-specific data
// A constraint we do not understand must fail the whole request: silently dropping a
// restriction the user asked for would widen what the key may do.
import {
  SSH_AGENT_CONSTRAIN_CONFIRM,
  SSH_AGENT_CONSTRAIN_EXTENSION,
  SSH_AGENT_CONSTRAIN_LIFETIME,
  SSH_AGENT_CONSTRAIN_MAXSIGN,
} from './message-numbers';
import { printable } from './key-blob';
import { SshReader, SshWriter, WireError } from './wire';

export const RESTRICT_DESTINATION_V00 = 'restrict-destination-v00@openssh.com';
export const ASSOCIATED_CERTS_V00 = 'associated-certs-v00@openssh.com';
export const SK_PROVIDER = 'sk-provider@openssh.com';

// Same bounds as OpenSSH's agent (AGENT_MAX_DEST_CONSTRAINTS, AGENT_MAX_EXT_CERTS, and
// since 10.x AGENT_USER_CONSTRAINT_MAX_LEN: a user pattern is matched on every signature).
const MAX_DEST_CONSTRAINTS = 1024;
const MAX_EXT_CERTS = 1024;
export const MAX_DEST_USER_BYTES = 256;

export interface DestinationKeySpec {
  keyBlob: Buffer;
  isCa: boolean;
}

/** One hop end. Empty user/hostname mean "not set" (OpenSSH: the origin has no hostname). */
export interface DestinationHop {
  user: string;
  hostname: string;
  keys: DestinationKeySpec[];
}

export interface DestinationConstraint {
  from: DestinationHop;
  to: DestinationHop;
}

export type KeyConstraint =
  | { kind: 'lifetime'; seconds: number }
  | { kind: 'confirm' }
  | { kind: 'maxsign'; maxSignatures: number }
  | { kind: 'restrict-destination'; constraints: DestinationConstraint[] }
  | { kind: 'associated-certs'; certOnly: boolean; certs: Buffer[] }
  | { kind: 'sk-provider'; path: string };

/** Reads constraints up to the end of the message. */
export function readConstraints(r: SshReader): KeyConstraint[] {
  const out: KeyConstraint[] = [];
  const seen = new Set<string>();
  while (!r.atEnd) {
    const c = readConstraint(r);
    if (seen.has(c.kind)) throw new WireError(`constraint ${c.kind} given twice`);
    seen.add(c.kind);
    out.push(c);
  }
  return out;
}

function readConstraint(r: SshReader): KeyConstraint {
  const code = r.uint8();
  switch (code) {
    case SSH_AGENT_CONSTRAIN_LIFETIME:
      return { kind: 'lifetime', seconds: r.uint32() };
    case SSH_AGENT_CONSTRAIN_CONFIRM:
      return { kind: 'confirm' };
    case SSH_AGENT_CONSTRAIN_MAXSIGN:
      return { kind: 'maxsign', maxSignatures: r.uint32() };
    case SSH_AGENT_CONSTRAIN_EXTENSION:
      return readConstraintExtension(r);
    default:
      throw new WireError(`unknown key constraint ${code}`);
  }
}

function readConstraintExtension(r: SshReader): KeyConstraint {
  const name = r.stringUtf8('constraint extension name');
  switch (name) {
    case RESTRICT_DESTINATION_V00: {
      // string { string constraint }*  — each constraint is itself a string.
      const all = new SshReader(r.string(name));
      const constraints: DestinationConstraint[] = [];
      while (!all.atEnd) {
        if (constraints.length >= MAX_DEST_CONSTRAINTS) throw new WireError(`more than ${MAX_DEST_CONSTRAINTS} destination constraints`);
        constraints.push(readDestinationConstraint(new SshReader(all.string('destination constraint'))));
      }
      return { kind: 'restrict-destination', constraints };
    }
    case ASSOCIATED_CERTS_V00: {
      // bool cert_only / string { string certificate }*
      const certOnly = r.bool();
      const list = new SshReader(r.string(name));
      const certs: Buffer[] = [];
      while (!list.atEnd) {
        if (certs.length >= MAX_EXT_CERTS) throw new WireError(`more than ${MAX_EXT_CERTS} associated certificates`);
        certs.push(list.string('certificate'));
      }
      return { kind: 'associated-certs', certOnly, certs };
    }
    case SK_PROVIDER:
      return { kind: 'sk-provider', path: r.stringUtf8('sk-provider path') };
    default:
      throw new WireError(`unknown key constraint extension "${printable(name)}"`);
  }
}

// string from_hop / string to_hop / string reserved
function readDestinationConstraint(r: SshReader): DestinationConstraint {
  const from = readHop(new SshReader(r.string('from hop')));
  const to = readHop(new SshReader(r.string('to hop')));
  if (r.string('reserved').length !== 0) throw new WireError('destination constraint has unsupported extensions');
  r.expectEnd('destination constraint');
  return { from, to };
}

// string user / string hostname / string reserved / { string key_blob / bool is_ca }*
function readHop(r: SshReader): DestinationHop {
  const user = r.stringUtf8('hop user');
  const userBytes = Buffer.byteLength(user, 'utf8'); // strict UTF-8: the bytes on the wire
  if (userBytes > MAX_DEST_USER_BYTES) throw new WireError(`destination user pattern of ${userBytes} bytes (at most ${MAX_DEST_USER_BYTES})`);
  const hostname = r.stringUtf8('hop hostname');
  if (r.string('reserved').length !== 0) throw new WireError('destination hop has unsupported extensions');
  const keys: DestinationKeySpec[] = [];
  while (!r.atEnd) keys.push({ keyBlob: r.string('hop host key'), isCa: r.bool() });
  return { user, hostname, keys };
}

export function writeConstraints(w: SshWriter, constraints: readonly KeyConstraint[]): SshWriter {
  for (const c of constraints) {
    switch (c.kind) {
      case 'lifetime':
        w.uint8(SSH_AGENT_CONSTRAIN_LIFETIME).uint32(c.seconds);
        break;
      case 'confirm':
        w.uint8(SSH_AGENT_CONSTRAIN_CONFIRM);
        break;
      case 'maxsign':
        w.uint8(SSH_AGENT_CONSTRAIN_MAXSIGN).uint32(c.maxSignatures);
        break;
      case 'restrict-destination': {
        const all = new SshWriter();
        for (const dc of c.constraints) {
          const one = new SshWriter().string(hopBytes(dc.from)).string(hopBytes(dc.to)).string(Buffer.alloc(0));
          all.string(one.toBuffer());
        }
        w.uint8(SSH_AGENT_CONSTRAIN_EXTENSION).string(RESTRICT_DESTINATION_V00).string(all.toBuffer());
        break;
      }
      case 'associated-certs': {
        const list = new SshWriter();
        for (const cert of c.certs) list.string(cert);
        w.uint8(SSH_AGENT_CONSTRAIN_EXTENSION).string(ASSOCIATED_CERTS_V00).bool(c.certOnly).string(list.toBuffer());
        break;
      }
      case 'sk-provider':
        w.uint8(SSH_AGENT_CONSTRAIN_EXTENSION).string(SK_PROVIDER).string(c.path);
        break;
    }
  }
  return w;
}

function hopBytes(h: DestinationHop): Buffer {
  const w = new SshWriter().string(h.user).string(h.hostname).string(Buffer.alloc(0));
  for (const k of h.keys) w.string(k.keyBlob).bool(k.isCa);
  return w.toBuffer();
}
