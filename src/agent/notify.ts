// Desktop notifications of key uses through the freedesktop Notifications D-Bus interface
// (org.freedesktop.Notifications.Notify, on the session bus), sent with `gdbus call` from
// libglib2.0-bin: no D-Bus library in the agent. Fire and forget: a missing gdbus, no session
// bus or no notification server costs one log line, never a signature. Rate-limited: the
// same use (key, class, destination, requester) once per interval, and at most a few per
// ten seconds in all; the uses left out are counted in the next notification.
import { spawn } from 'node:child_process';
import type { AgentLog } from './log';
import { describeRequester } from './requester';
import { describeKey, describeTarget, describeVia, type KeyUse } from './use-record';

const BURST = 3;
const BURST_WINDOW_MS = 10_000;
const EXPIRE_MS = 8000;
const CALL_TIMEOUT_MS = 5000;

export interface Notifier {
  notify(use: KeyUse, intervalSeconds: number): void;
}

export function gdbusNotifier(log: AgentLog, env: NodeJS.ProcessEnv = process.env, now = Date.now): Notifier {
  const lastSame = new Map<string, number>();
  const sent: number[] = [];
  let skipped = 0;
  let broken = false;
  return {
    notify(use, intervalSeconds) {
      const t = now();
      const same = [use.key.fingerprint, use.class, describeTarget(use), use.requester.chain[0]?.command ?? ''].join('\0');
      const last = lastSame.get(same);
      while (sent.length > 0 && t - sent[0] > BURST_WINDOW_MS) sent.shift();
      if ((last !== undefined && t - last < intervalSeconds * 1000) || sent.length >= BURST) {
        skipped++;
        return;
      }
      lastSame.set(same, t);
      if (lastSame.size > 256) lastSame.delete(lastSame.keys().next().value!);
      sent.push(t);
      const more = skipped > 0 ? `\n(+${skipped} more use${skipped === 1 ? '' : 's'} not shown)` : '';
      skipped = 0;
      const summary = `${use.outcome === 'signed' ? 'Key used' : 'Key use refused'}: ${use.class}`;
      const body = [
        `${describeTarget(use)}`,
        `key ${describeKey(use)}`,
        describeVia(use),
        `by ${describeRequester(use.requester.chain.slice(0, 2), use.requester.pid)}`,
      ].join('\n') + more;
      send(summary, body);
    },
  };

  function send(summary: string, body: string): void {
    const args = [
      'call', '--session', '--timeout', String(CALL_TIMEOUT_MS / 1000),
      '--dest', 'org.freedesktop.Notifications',
      '--object-path', '/org/freedesktop/Notifications',
      '--method', 'org.freedesktop.Notifications.Notify',
      // (susssasa{sv}i): app_name, replaces_id, app_icon, summary, body, actions, hints, expire_timeout
      gvariantString('tt-agent'), 'uint32 0', gvariantString('dialog-password'),
      gvariantString(summary), gvariantString(body), '@as []', '@a{sv} {}', `int32 ${EXPIRE_MS}`,
    ];
    let child;
    try {
      child = spawn('gdbus', args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      failed(`cannot run gdbus: ${(err as Error).message}`);
      return;
    }
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s.slice(0, 400)));
    const timer = setTimeout(() => child.kill('SIGKILL'), CALL_TIMEOUT_MS + 1000);
    child.on('error', (err) => {
      clearTimeout(timer);
      failed((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'gdbus is not installed (Debian package libglib2.0-bin)' : err.message);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) broken = false;
      else if (code !== null) failed(`gdbus call failed: ${stderr.trim().split('\n')[0] || `exit ${code}`}`);
    });
  }

  function failed(why: string): void {
    // Said once at warn level, then at debug until a notification goes through again.
    log(broken ? 'debug' : 'warn', `desktop notification not shown: ${why}`);
    broken = true;
  }
}

/** A GVariant text-format string literal (gdbus parses each argument as GVariant text). */
export function gvariantString(s: string): string {
  return `"${s.replace(/[\\"]/g, '\\$&').replace(/[\x00-\x1f\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}
