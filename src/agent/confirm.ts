// The `confirm` key constraint: before each signature the user is asked through $SSH_ASKPASS,
// the way OpenSSH's agent does it (SSH_ASKPASS_PROMPT=confirm; exit status 0 means yes).
import { spawn } from 'node:child_process';

export type ConfirmFn = (prompt: string) => Promise<{ allowed: boolean; reason?: string }>;

export function askpassConfirm(askpass: string | undefined, env: NodeJS.ProcessEnv, timeoutMs = 120_000): ConfirmFn {
  return (prompt) =>
    new Promise((resolve) => {
      if (!askpass) {
        resolve({ allowed: false, reason: 'no SSH_ASKPASS program to ask for confirmation' });
        return;
      }
      const child = spawn(askpass, [prompt], {
        env: { ...env, SSH_ASKPASS_PROMPT: 'confirm' },
        stdio: ['ignore', 'ignore', 'ignore'],
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', (err) => {
        clearTimeout(timer);
        resolve({ allowed: false, reason: `cannot run ${askpass}: ${err.message}` });
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve({ allowed: true });
        else resolve({ allowed: false, reason: `${askpass} said no (${signal ?? `exit ${code}`})` });
      });
    });
}
