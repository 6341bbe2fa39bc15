// The text form of `tt-agent status --uses`: one line a use, oldest first, local time.
import type { AgentStatus } from '../agent/status';
import { describeUse } from '../agent/use-record';

export function renderUses(s: AgentStatus): string {
  if (s.locked) return 'The agent is locked: its key uses are hidden until it is unlocked (ssh-add -X).\n';
  const uses = s.uses ?? [];
  if (uses.length === 0) return 'No key uses since the agent started.\n';
  // Command lines and comments come from other programs: no control character reaches the terminal.
  const lines = uses.map((u) => `${when(u.at)}  ${describeUse(u)}`.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
  return `${lines.join('\n')}\n`;
}

function when(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
