// Another uid playing agent: it binds a socket path first (in a shared sticky directory) and
// answers status@tt-agent with a plausible report naming the pid tt-agent expects (the
// background child it can see in /proc), exactly what a starter trusting the reply accepts.
import { spawn, type ChildProcess } from 'node:child_process';
import { killAndWait } from '../helpers/sshd';

export const NOBODY = 65534;

// Runs as `node -e` under setpriv, so no file of the test tree needs to be readable by nobody.
const SCRIPT = String.raw`
const net = require('net'), fs = require('fs');
const [sock, when, fixedPid] = process.argv.slice(1);
// The tt-agent child that will bind sock: its command line names -D and the path.
function childPid() {
  if (fixedPid) return Number(fixedPid);
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = fs.readFileSync('/proc/' + d + '/cmdline', 'utf8').split('\0');
      if (argv.includes('-D') && argv.includes(sock)) return Number(d);
    } catch {}
  }
}
function str(b) { const n = Buffer.alloc(4); n.writeUInt32BE(b.length); return Buffer.concat([n, b]); }
function reply(c) {
  const pid = childPid();
  if (pid === undefined) return c.write(Buffer.from([0, 0, 0, 1, 5])); // SSH_AGENT_FAILURE
  const status = { agent: 'tt-agent', version: '0.1.0', pid, uid: 0, locked: false, identities: 0 };
  c.write(str(Buffer.concat([Buffer.from([29]), str(Buffer.from('status@tt-agent')), str(Buffer.from(JSON.stringify(status)))])));
  process.stdout.write('answered ' + pid + '\n');
}
function serve() {
  const srv = net.createServer((c) => {
    let buf = Buffer.alloc(0);
    c.on('error', () => {});
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        buf = buf.subarray(4 + buf.readUInt32BE(0));
        reply(c);
      }
    });
  });
  srv.on('error', (e) => { process.stdout.write('lost ' + e.code + '\n'); process.exit(3); });
  srv.listen(sock, () => { fs.chmodSync(sock, 0o777); process.stdout.write('listening\n'); });
}
if (when === 'now') serve();
else { const t = setInterval(() => { if (childPid() !== undefined) { clearInterval(t); serve(); } }, 1); }
process.stdout.write('ready\n');
`;

export interface Impostor {
  child: ChildProcess;
  output(): string;
  /** Resolves when its output contains `text`. */
  waitFor(text: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `when: 'now'` binds at once; `'child'` waits until a tt-agent child naming `sock` exists,
 * then binds: after tt-agent's own checks of the path, before the child's bind.
 */
export function startImpostor(sock: string, when: 'now' | 'child', fixedPid?: number): Impostor {
  const args = ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', process.execPath, '-e', SCRIPT, sock, when];
  if (fixedPid !== undefined) args.push(String(fixedPid));
  const child = spawn('setpriv', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const waiters: Array<() => void> = [];
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    out += s;
    for (const w of waiters.splice(0)) w();
  });
  const waitFor = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (out.includes(text)) return resolve();
        if (child.exitCode !== null) return reject(new Error(`impostor exited: ${out}`));
        waiters.push(check);
      };
      child.once('exit', check);
      check();
    });
  return { child, output: () => out, waitFor, stop: () => killAndWait(child) };
}
