// `tt-agent -k`: SIGTERM to $SSH_AGENT_PID, as `ssh-agent -k`, then shell code that clears
// the variables. The agent removes its socket itself when the signal arrives.
import type { Shell } from './agent-args';
import { UserError } from './user-error';
import { unsetLines } from './shell-env';

export function killAgent(shell: Shell, env: NodeJS.ProcessEnv = process.env): number {
  const text = env.SSH_AGENT_PID;
  const pid = Number(text);
  if (!text || !Number.isInteger(pid) || pid <= 1) {
    throw new UserError(
      text ? `SSH_AGENT_PID "${text}" is not a process id.` : 'SSH_AGENT_PID is not set, so there is no agent to kill.',
      'Run tt-agent -k in the shell where eval $(tt-agent) ran; an agent started by systemd stops with: systemctl --user stop tt-agent',
    );
  }
  try {
    process.kill(pid, 'SIGTERM');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(
      `cannot kill agent pid ${pid} (${code === 'ESRCH' ? 'no such process' : code}).`,
      code === 'ESRCH' ? 'It is gone already; unset SSH_AUTH_SOCK and SSH_AGENT_PID.' : 'Is it your agent? Check SSH_AGENT_PID.',
    );
  }
  process.stdout.write(unsetLines(shell, pid));
  return 0;
}
