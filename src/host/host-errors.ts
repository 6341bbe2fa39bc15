// Errors that cross the pipe between a module host and the agent. Only plain data crosses
// (name, message, CKR_* name), so the agent can log the exact reason without importing the
// PKCS#11 layer, and the hint (src/hint.ts) goes on to the agent's log and to `tt-agent add`.
import { hintOf, type Hinted } from '../hint';

/** What the host sends back for a failed request. */
export interface HostErrorInfo {
  name: string;
  message: string;
  /** Exact PKCS#11 return value name, e.g. CKR_PIN_INCORRECT, when a module call failed. */
  ckr?: string;
  /** The PKCS#11 function that failed, e.g. C_Login. */
  fn?: string;
  /** Token label the failure concerns, when there is one. */
  token?: string;
  /** What to do next (src/hint.ts); an older host sends none. */
  hint?: string;
}

/** A request the module host answered with a failure (a PKCS#11 error, an unknown key, ...). */
export class HostRequestError extends Error implements Partial<Hinted> {
  /** The error's name inside the host, e.g. UnknownKeyError: what the host says, to be checked. */
  readonly errorName: string;
  readonly ckr?: string;
  readonly fn?: string;
  readonly token?: string;
  readonly hint?: string;
  constructor(info: HostErrorInfo) {
    super(info.message);
    this.name = 'HostRequestError';
    this.errorName = info.name;
    this.ckr = info.ckr;
    this.fn = info.fn;
    this.token = info.token;
    this.hint = info.hint;
  }
}

/** The module host died (crash, kill) or stopped answering; its keys are offline until restart. */
export class HostCrashedError extends Error implements Hinted {
  constructor(
    message: string,
    readonly hint = 'The module host restarts on the next use; if it keeps failing, check the module with pkcs11-tool --module MODULE -L.',
  ) {
    super(message);
    this.name = 'HostCrashedError';
  }
}

/** The host did not answer within the request's time limit; it is killed and restarted on next use. */
export class HostTimeoutError extends Error implements Hinted {
  constructor(
    message: string,
    readonly hint = 'The token did not answer in time; check it is plugged in and not waiting for a touch or PIN pad.',
  ) {
    super(message);
    this.name = 'HostTimeoutError';
  }
}

/** Flattens any error thrown inside the host into what crosses the pipe. */
export function toHostErrorInfo(err: unknown): HostErrorInfo {
  if (err instanceof Error) {
    const e = err as Error & { ckr?: unknown; fn?: unknown; token?: unknown };
    const info: HostErrorInfo = { name: e.name, message: e.message };
    if (typeof e.ckr === 'string') info.ckr = e.ckr;
    if (typeof e.fn === 'string') info.fn = e.fn;
    if (typeof e.token === 'string') info.token = e.token;
    const hint = hintOf(err);
    if (hint !== undefined) info.hint = hint;
    return info;
  }
  return { name: 'Error', message: String(err) };
}
