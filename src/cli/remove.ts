// `tt-agent remove MODULE`: what `ssh-add -e MODULE` does — SSH_AGENTC_REMOVE_SMARTCARD_KEY,
// after which the agent forgets the module's keys and stops its module host.
import * as path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { AgentClient } from './agent-client';
import { UserError } from './user-error';

interface RemoveArgs {
  module?: string;
}

export const command: CommandModule<object, RemoveArgs> = {
  command: 'remove [module]',
  describe: "remove a module's keys from the running agent (like ssh-add -e)",
  builder: (y: Argv<object>) =>
    y.positional('module', {
      type: 'string',
      describe: 'the PKCS#11 module path or p11-kit module name given to tt-agent add (default: $TT_AGENT_MODULE, else OpenSC)',
    }) as Argv<RemoveArgs>,
  handler: async (argv) => {
    const { resolveModuleSpec } = await import('../pkcs11/resolve');
    const modulePath = path.resolve(resolveModuleSpec(argv.module).modulePath);
    const client = await AgentClient.connect();
    let reply;
    try {
      reply = await client.call({ type: 'SSH_AGENTC_REMOVE_SMARTCARD_KEY', readerId: modulePath, pin: Buffer.alloc(0) }, 'SSH_AGENT_SUCCESS');
    } finally {
      client.close();
    }
    if (reply.type !== 'SSH_AGENT_SUCCESS') {
      throw new UserError(`the agent did not remove ${modulePath}`, 'Check that it was added from this path: tt-agent list, or tt-agent status.');
    }
    process.stdout.write(`removed the keys of ${modulePath}\n`);
  },
};
