// Every subcommand, as a name → loader table. Only the command being run is required, so
// `tt-agent pubkey` never loads the X.509 or RNG code; `--help` with no command loads them all.
// Each command file exports `command: CommandModule`.
import type { CommandModule } from 'yargs';

type Loader = () => CommandModule<any, any>;

const COMMANDS: Record<string, Loader> = {
  add: () => require('./add').command,
  remove: () => require('./remove').command,
  list: () => require('./list').command,
  pubkey: () => require('./pubkey').command,
  keygen: () => require('./keygen').command,
  selfsign: () => require('./selfsign').command,
  'fix-ids': () => require('./fix-ids').command,
  rng: () => require('./rng').command,
  unlock: () => require('./unlock').command,
  'forget-pin': () => require('./forget-pin').command,
  status: () => require('./status').command,
  setup: () => require('./setup').command,
};

/** Names of the subcommands, checked before yargs is loaded. */
export const COMMAND_NAMES = Object.keys(COMMANDS);

/** The modules of `name` alone when it is a known command, else all of them (for help). */
export function loadCommands(name?: string): CommandModule<any, any>[] {
  const loader = name !== undefined ? COMMANDS[name] : undefined;
  if (loader) return [loader()];
  return Object.values(COMMANDS).map((load) => load());
}
