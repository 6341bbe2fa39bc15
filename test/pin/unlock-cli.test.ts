// `tt-agent unlock` typed into a real terminal (tmux) against a small unix-socket agent that
// dispatches unlock-token@tt-agent to a real PIN broker, which has a login waiting.
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as path from 'node:path';
import test from 'node:test';
import { FrameDecoder, frame } from '../../src/protocol/framing';
import { SshReader } from '../../src/protocol/wire';
import { PinBroker } from '../../src/pin/broker';
import { handlePinExtension } from '../../src/pin/pin-extensions';
import { decodeUnlockBody } from '../../src/protocol/pin-extension-messages';
import { baseEnv, tempDir } from './helpers';
import { haveTmux, Tmux } from './tmux';

const SSH_AGENTC_EXTENSION = 27;

/** Listens like the agent, records each extension request (name, body copy) and answers through the broker. */
function listen(socketPath: string, broker: PinBroker) {
  const seen: { name: string; body: Buffer }[] = [];
  const server = net.createServer((sock) => {
    const dec = new FrameDecoder();
    sock.on('data', async (chunk) => {
      for (const msg of dec.push(chunk)) {
        const r = new SshReader(msg);
        if (r.uint8() !== SSH_AGENTC_EXTENSION) {
          sock.write(frame(Buffer.of(5)));
          continue;
        }
        const name = r.stringUtf8();
        const body = r.rest();
        seen.push({ name, body: Buffer.from(body) });
        const reply = await handlePinExtension(broker, name, body);
        sock.write(frame(reply ?? Buffer.of(5)));
      }
    });
  });
  return new Promise<{ seen: typeof seen; close: () => void }>((resolve) =>
    server.listen(socketPath, () => resolve({ seen, close: () => server.close() })),
  );
}

test('tt-agent unlock: no echo, the PIN reaches the waiting login', { skip: haveTmux() ? false : 'tmux not installed', timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const socketPath = path.join(dir, 'agent.sock');
  const logLines: string[] = [];
  const broker = new PinBroker({ askpass: { env: baseEnv({}) }, pinentry: false, unlockWaitMs: 30_000, log: (l) => logLines.push(l) });
  t.after(() => broker.close());
  const agent = await listen(socketPath, broker);
  t.after(agent.close);

  const token = { label: 'work card', serial: '0123abcd' };
  const login = broker.getPin(token, { triesLeft: 'low' });

  const tmux = new Tmux(dir);
  t.after(() => tmux.kill());
  const cli = path.join(__dirname, 'cli-run.ts');
  tmux.start(`cd '${path.join(__dirname, '..', '..')}' && '${process.execPath}' --import tsx '${cli}' unlock 'work card'`, { SSH_AUTH_SOCK: socketPath, TERM: 'xterm' });
  await tmux.waitFor(/PIN for token work card:/);
  // 24681, a wrong 9 erased with Backspace, then 0: the PIN is 246810.
  tmux.type('246819');
  tmux.keys('BSpace');
  tmux.type('0');
  tmux.keys('Enter');
  const screen = await tmux.waitFor(/EXIT=\d+/);

  assert.match(screen, /PIN handed to the agent for token "work card" \(serial 0123abcd\)/);
  assert.match(screen, /EXIT=0/);
  assert.ok(!/24681|\*{3}/.test(screen), `the PIN (or a mask) was shown:\n${screen}`);
  assert.equal((await login)?.toString(), '246810', 'the waiting login got the PIN');

  assert.equal(agent.seen.length, 1);
  assert.equal(agent.seen[0].name, 'unlock-token@tt-agent');
  const req = decodeUnlockBody(Buffer.from(agent.seen[0].body));
  assert.deepEqual({ selector: req.selector, pin: req.pin.toString(), remember: req.remember }, { selector: 'work card', pin: '246810', remember: false });
  assert.ok(!logLines.join('\n').includes('246810'));
});

test('tt-agent unlock naming a token the agent does not know: exit 1, says so', { skip: haveTmux() ? false : 'tmux not installed', timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const socketPath = path.join(dir, 'agent.sock');
  const broker = new PinBroker({ pinentry: false, unlockWaitMs: 0 });
  t.after(() => broker.close());
  const agent = await listen(socketPath, broker);
  t.after(agent.close);
  const tmux = new Tmux(dir);
  t.after(() => tmux.kill());
  const cli = path.join(__dirname, 'cli-run.ts');
  tmux.start(`cd '${path.join(__dirname, '..', '..')}' && '${process.execPath}' --import tsx '${cli}' unlock nosuch --remember`, { SSH_AUTH_SOCK: socketPath, TERM: 'xterm' });
  await tmux.waitFor(/PIN for token nosuch:/);
  tmux.type('1234');
  tmux.keys('Enter');
  const screen = await tmux.waitFor(/EXIT=\d+/);
  assert.match(screen, /tt-agent: no token matching "nosuch" is known to the agent/);
  assert.match(screen, /EXIT=1/);
  assert.equal(decodeUnlockBody(Buffer.from(agent.seen[0].body)).remember, true);
});

test('tt-agent unlock: Ctrl-C cancels and sends nothing', { skip: haveTmux() ? false : 'tmux not installed', timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const socketPath = path.join(dir, 'agent.sock');
  const broker = new PinBroker({ pinentry: false, unlockWaitMs: 0 });
  t.after(() => broker.close());
  const agent = await listen(socketPath, broker);
  t.after(agent.close);
  const tmux = new Tmux(dir);
  t.after(() => tmux.kill());
  const cli = path.join(__dirname, 'cli-run.ts');
  tmux.start(`cd '${path.join(__dirname, '..', '..')}' && '${process.execPath}' --import tsx '${cli}' unlock`, { SSH_AUTH_SOCK: socketPath, TERM: 'xterm' });
  await tmux.waitFor(/PIN for the token the agent is waiting for:/);
  tmux.type('12');
  tmux.keys('C-c');
  const screen = await tmux.waitFor(/EXIT=\d+/);
  assert.match(screen, /PIN entry cancelled; nothing was sent/);
  assert.match(screen, /EXIT=130/);
  assert.equal(agent.seen.length, 0);
});
