// Every subcommand, loaded only when yargs is (not on the `eval $(tt-agent)` path).
// One line per command file; each file exports `command: CommandModule`.
import type { CommandModule } from 'yargs';

export function loadCommands(): CommandModule<any, any>[] {
  return [
    // require() keeps each command's dependencies off the start-up path of the others.
  ];
}

/** Names of the subcommands, checked before yargs is loaded. */
export const COMMAND_NAMES = [
  'add', 'remove', 'list', 'pubkey', 'keygen', 'selfsign', 'fix-ids', 'rng', 'status', 'unlock', 'forget-pin',
  'help',
];
