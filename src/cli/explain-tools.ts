// How keygen, selfsign and fix-ids failures read: one line on what went wrong, one on what to do.
// TokenErrors are explained here in the light of what the command was doing; anything else
// falls through to the token layer's explainer.
import { MechanismNotSupportedError, TokenError } from '../pkcs11/errors';
import { SignUnsupportedError } from '../pkcs11/sign';
import { CertificateNotStoredError, ToolError } from '../tools/tool-errors';
import { CertificateInputError } from '../x509';
import { UserError } from './user-error';
import { explainTokenError } from './explain-token';

export interface ToolContext {
  /** what was being done, as in "cannot <action>": 'generate the key pair', 'write the certificate' */
  action: string;
  command: string;
  /** MODULE|URI as given, for hints that repeat the command */
  spec: string;
}

/** The UserError to show, or `err` itself when nothing here knows it (report.ts then has its say). */
export function explainToolError(err: unknown, ctx: ToolContext): unknown {
  if (err instanceof UserError) return err;
  const u = (message: string, hint: string, exitCode = 1) => new UserError(message, hint, exitCode, { cause: err });
  const list = `tt-agent list ${quote(ctx.spec)}`;
  if (err instanceof CertificateNotStoredError) {
    const inner = explainToolError(err.cause, ctx);
    const why = inner instanceof Error ? inner.message : String(inner);
    return u(
      why,
      'The certificate itself was made: save it with --out FILE and import it with the token\'s own tool (e.g. yubico-piv-tool -a import-certificate).',
    );
  }
  if (err instanceof ToolError) {
    switch (err.reason) {
      case 'key-not-found':
        return u(err.message, `${list} shows the keys with their IDs and labels.`);
      case 'key-ambiguous':
        return u(err.message, 'Select one with --id HEX (IDs are listed above).');
      case 'key-cannot-sign':
        return u(err.message, 'Use a key that may sign; tt-agent keygen makes one.');
      case 'public-key-unknown':
        return u(err.message, 'Import its public key or certificate with the tool that made the key, then run selfsign again.');
      case 'certificate-exists':
        return u(err.message, `Add --force to replace it (the new certificate is written before the old one is removed).`);
      case 'id-taken':
        return u(err.message, 'Choose another --id, or leave --id out to get a free one.');
      case 'not-logged-in':
        return u(err.message, 'Log in with the user PIN (prompt, --pin-source FILE or pin-value in the URI).');
      case 'certificate-not-stored':
        break;
    }
  }
  if (err instanceof CertificateInputError) {
    switch (err.field) {
      case 'subject':
        return u(err.message, `Write it like "CN=alice,O=Example" (RFC 4514; escape , + " \\ < > ; with a backslash).`, 2);
      case 'days':
        return u(err.message, 'Give how long the certificate is valid, e.g. --days 365.', 2);
      case 'publicKey':
        return u(err.message, `${list} shows what the token knows about the key.`);
      case 'signature':
        return u(
          `nothing was written: ${err.message}`,
          `The token's objects may be mispaired; tt-agent fix-ids ${quote(ctx.spec)} --dry-run shows how.`,
        );
    }
  }
  if (err instanceof MechanismNotSupportedError || err instanceof SignUnsupportedError) {
    return u(`cannot ${ctx.action}: ${err.message}`, 'pkcs11-tool --list-mechanisms shows what the token offers; choose another key type.');
  }
  if (err instanceof TokenError) {
    const what = `cannot ${ctx.action}: ${err.fn} returned ${err.ckr}`;
    switch (err.ckr) {
      case 'CKR_TOKEN_WRITE_PROTECTED':
        return u(`cannot ${ctx.action}: the token is write-protected (${err.ckr})`, "Lift the token's write protection and try again.");
      case 'CKR_USER_NOT_LOGGED_IN':
        return u(`cannot ${ctx.action}: not logged in (${err.ckr})`, 'Log in with the user PIN (prompt, --pin-source FILE or pin-value in the URI).');
      case 'CKR_MECHANISM_INVALID':
      case 'CKR_MECHANISM_PARAM_INVALID':
      case 'CKR_DOMAIN_PARAMS_INVALID':
      case 'CKR_CURVE_NOT_SUPPORTED':
        return u(`${what}: the token does not support this`, 'pkcs11-tool --list-mechanisms shows what it offers; choose another key type.');
      case 'CKR_KEY_FUNCTION_NOT_PERMITTED':
      case 'CKR_KEY_TYPE_INCONSISTENT':
        return u(`${what}: the key may not do this`, `${list} shows which keys can sign.`);
      case 'CKR_FUNCTION_NOT_SUPPORTED':
      case 'CKR_TEMPLATE_INCONSISTENT':
      case 'CKR_ATTRIBUTE_VALUE_INVALID':
      case 'CKR_ATTRIBUTE_READ_ONLY':
        return u(
          `${what}: the token or its module does not allow this`,
          'PIV cards and many smart cards generate keys and store certificates only through their own tools (e.g. yubico-piv-tool); do that, then use tt-agent selfsign or pubkey.',
        );
      case 'CKR_DEVICE_MEMORY':
        return u(`${what}: the token is full`, 'Delete objects you no longer need (pkcs11-tool --delete-object) and try again.');
      case 'CKR_SESSION_READ_ONLY':
        return u(`${what}: the session is read-only`, 'The token may be write-protected; check tt-agent list.');
    }
  }
  return explainTokenError(err) ?? err;
}

function quote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
