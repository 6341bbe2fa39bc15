// A small client for the running agent, used by the commands that talk to it (add, remove,
// list, status) and by `tt-agent` itself to recognise a live agent. It imports only the wire
// and framing code so that `eval $(tt-agent)` stays fast.
import { connect, type Socket } from 'node:net';
import { FrameDecoder, frame } from '../protocol/framing';
import { SshReader, SshWriter } from '../protocol/wire';
import type { AgentRequestInput, AgentResponse } from '../protocol/agent-messages';
import { UserError } from './user-error';

const SSH_AGENTC_EXTENSION = 27;
const SSH_AGENT_EXTENSION_RESPONSE = 29;
export const STATUS_EXTENSION = 'status@tt-agent';

export class AgentConnectionError extends UserError {}

export class AgentClient {
  private readonly decoder = new FrameDecoder();
  private waiters: { resolve: (b: Buffer) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | null = null;

  private constructor(
    private readonly socket: Socket,
    readonly socketPath: string,
  ) {
    socket.on('data', (chunk: Buffer) => {
      let bodies: Buffer[];
      try {
        bodies = this.decoder.push(chunk);
      } catch (err) {
        this.fail(err as Error);
        return;
      }
      for (const b of bodies) this.waiters.shift()?.resolve(b);
    });
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('the agent closed the connection')));
  }

  /** Connects to `socketPath` (default $SSH_AUTH_SOCK). */
  static connect(socketPath = process.env.SSH_AUTH_SOCK, timeoutMs = 5000): Promise<AgentClient> {
    if (!socketPath) {
      return Promise.reject(
        new AgentConnectionError('SSH_AUTH_SOCK is not set, so there is no agent to talk to.', 'Start one with: eval $(tt-agent)'),
      );
    }
    return new Promise((resolve, reject) => {
      const socket = connect(socketPath);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new AgentConnectionError(`the agent at ${socketPath} did not accept a connection within ${timeoutMs} ms.`, 'Check that it runs: tt-agent status'));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new AgentClient(socket, socketPath));
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(
          new AgentConnectionError(`cannot connect to the agent at ${socketPath} (${err.code ?? err.message}).`, 'Start one with: eval $(tt-agent)', 1, {
            cause: err,
          }),
        );
      });
    });
  }

  /** Sends one request body and resolves with the reply body; rejects after `timeoutMs`. */
  request(body: Buffer, timeoutMs = 30_000): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new AgentConnectionError(`the agent at ${this.socketPath} did not answer within ${timeoutMs / 1000} s.`, 'See its log, or check it with: tt-agent status'));
        this.close();
      }, timeoutMs);
      this.waiters.push({
        resolve: (b) => {
          clearTimeout(timer);
          resolve(b);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.socket.write(frame(body));
    });
  }

  /**
   * Encodes a request, sends it and decodes the reply (a failure reply is returned, not
   * thrown: callers say what failed). The codec is loaded here, off the start-up path.
   */
  async call<T extends AgentResponse['type']>(req: AgentRequestInput, expect: T, timeoutMs?: number): Promise<AgentResponse> {
    const { encodeRequest, decodeResponse } = await import('../protocol/agent-messages');
    return decodeResponse(await this.request(encodeRequest(req), timeoutMs), expect);
  }

  close(): void {
    this.socket.destroy();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w.reject(err);
  }
}

/**
 * Asks the agent for its status@tt-agent answer. Resolves null when the agent does not know
 * the extension (an OpenSSH agent, say) or does not answer in time.
 */
export async function queryAgentStatus<T = Record<string, unknown>>(
  socketPath: string,
  opts: { full?: boolean; timeoutMs?: number } = {},
): Promise<T | null> {
  let client: AgentClient;
  try {
    client = await AgentClient.connect(socketPath, opts.timeoutMs ?? 2000);
  } catch {
    return null;
  }
  try {
    const w = new SshWriter().uint8(SSH_AGENTC_EXTENSION).string(STATUS_EXTENSION);
    if (opts.full) w.string('full');
    const reply = await client.request(w.toBuffer(), opts.timeoutMs ?? 2000);
    const r = new SshReader(reply);
    if (r.uint8() !== SSH_AGENT_EXTENSION_RESPONSE || r.stringUtf8() !== STATUS_EXTENSION) return null;
    return JSON.parse(r.stringUtf8()) as T;
  } catch {
    return null;
  } finally {
    client.close();
  }
}
