// tt-agent's agent core with the PKCS#11 module loaded into the agent process itself, no
// module host: the same socket server, dispatch and signing code, minus the process hop.
// Not a product mode (it gives up crash containment); the benchmark runs it with
// BENCH_INLINE=1 to measure what the host process costs. Usage: inline-agent.ts SOCKET
import { createAgent } from '../../src/agent/server';
import type { TokenProvider } from '../../src/token-provider/provider';
import { ModuleHost } from '../../src/host/module-host';

function inlineProvider(modulePath: string): TokenProvider {
  const host = new ModuleHost(modulePath);
  return {
    modulePath,
    load: (pin, uri) => host.load(pin, uri),
    sign: (blob, data, flags) => host.sign(blob, data, flags),
    status: async () => host.status(),
    close: () => host.close(),
  };
}

if (require.main === module) {
  const socketPath = process.argv[2];
  createAgent({ socketPath, providerFactory: inlineProvider }).then(
    (agent) => {
      process.once('SIGTERM', () => void agent.close().then(() => process.exit(0)));
    },
    (err: Error) => {
      process.stderr.write(`inline agent: ${err.message}\n`);
      process.exit(1);
    },
  );
}
