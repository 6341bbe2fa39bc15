// How the token layer's errors read to a user: what went wrong, then what to do next.
import {
  ModuleLoadError,
  ModuleSpecError,
  TokenError,
  TokenSelectionError,
  UriError,
} from '../pkcs11/errors';
import { TpmContextsError } from '../pkcs11/login';
import { initializeFailureHint } from '../pkcs11/module-services';
import { UserError } from './user-error';
import { registerExplainer } from './report';

const MODULE_HINT =
  "Give the path of the token's PKCS#11 module (e.g. /usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so), a p11-kit module name such as 'opensc', or a pkcs11: URI.";

export function explainTokenError(err: unknown): UserError | undefined {
  const u = (message: string, hint: string, exitCode = 1) => new UserError(message, hint, exitCode, { cause: err });
  // A mistyped module name or URI is a usage error (exit 2), like a bad option.
  const usage = (message: string, hint: string) => u(message, hint, 2);
  if (err instanceof ModuleLoadError) {
    const p = err.modulePath;
    switch (err.reason) {
      case 'not-found':
        return u(`PKCS#11 module ${p} does not exist`, MODULE_HINT);
      case 'not-a-file':
        return u(`PKCS#11 module ${p} is not a file`, MODULE_HINT);
      case 'not-shared-library':
        return u(`${p} is not a loadable shared library (${err.detail.replace(`${p}: `, '')})`, MODULE_HINT);
      case 'not-pkcs11':
        return u(`${p} is a shared library but not a PKCS#11 module (it has no C_GetFunctionList)`, MODULE_HINT);
      case 'initialize-failed':
        return u(
          `PKCS#11 module ${p} failed to start: C_Initialize returned ${err.ckr}`,
          err.hint ?? initializeFailureHint(p),
        );
    }
  }
  if (err instanceof ModuleSpecError) {
    switch (err.reason) {
      case 'unknown-module-name':
        return usage(err.detail, "Give the module's path instead, or add a p11-kit config for it (see pkcs11.conf(5)).");
      case 'config-unreadable':
        return u(err.detail, "Fix that file's permissions or remove it, or give the module's path instead of its name.");
      case 'config-without-module':
        return u(err.detail, "Add a 'module: /path/to/module.so' line to it, or give the module's path.");
      case 'no-default-module':
        return u(
          'no PKCS#11 module given, and no default module is installed',
          'Name one (tt-agent list /path/to/module.so), or set TT_AGENT_MODULE.',
        );
    }
  }
  if (err instanceof UriError) {
    return usage(err.message, "Write it as RFC 7512 says, e.g. 'pkcs11:token=My%20Token;id=%01?module-path=/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so'.");
  }
  if (err instanceof TokenSelectionError) {
    switch (err.reason) {
      case 'no-token':
      case 'no-slots':
        return u(err.detail, 'Insert the token or connect the reader (pcsc_scan shows what pcscd sees), then try again.');
      case 'uninitialized':
        return u(err.detail, "Initialize it first with the token's own tool (e.g. softhsm2-util --init-token, pkcs11-tool --init-token).");
      case 'no-match':
        return u(err.detail, 'Check the token=/serial= parts of the URI against: tt-agent list MODULE');
    }
  }
  if (err instanceof TpmContextsError) return u(err.message, err.hint);
  if (err instanceof TokenError) return explainCkr(err, u);
  return undefined;
}

function explainCkr(err: TokenError, u: (m: string, h: string) => UserError): UserError {
  switch (err.ckr) {
    case 'CKR_PIN_INCORRECT':
      return u('PIN incorrect', 'Check the PIN and try again; tokens lock after a few wrong tries.');
    case 'CKR_PIN_LOCKED':
      return u('the PIN is locked', "Unblock it with the SO PIN or PUK using the token's own tool.");
    case 'CKR_TOKEN_NOT_PRESENT':
    case 'CKR_DEVICE_REMOVED':
      return u(`the token was removed (${err.fn}: ${err.ckr})`, 'Insert it again and retry.');
    default:
      return u(`${err.fn} failed: ${err.ckr}`, 'Run again with --debug for details; the module may need its own diagnostics.');
  }
}

let registered = false;
/** Idempotent: each token command calls it on load. */
export function registerTokenExplainer(): void {
  if (registered) return;
  registered = true;
  registerExplainer(explainTokenError);
}
