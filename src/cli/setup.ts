// `tt-agent setup [--uninstall]`: a socket-activated agent for every login, the systemd way.
// Installs the user socket and service, enables the socket (and starts it when the user
// manager runs), and prints the one line the user's shell profile needs. Running it again
// changes nothing; --uninstall stops and removes only what setup wrote.
import type { Argv, CommandModule } from 'yargs';
import { basename, join } from 'node:path';
import { UserError } from './user-error';
import { CONTRIB, UNITS, disableLink, enableLink, removeUnit, unitDir, userManagerRunning, userSystemctl, writeUnit, type Outcome } from './user-units';
import { examplesEpilog } from './help-examples';

interface SetupArgs {
  uninstall?: boolean;
  shell?: string;
  enable?: boolean;
}

const SHELLS = ['sh', 'bash', 'zsh', 'fish', 'csh', 'tcsh'];

export const command: CommandModule<object, SetupArgs> = {
  command: 'setup',
  describe: 'install and enable the systemd user socket and service (the agent starts on first use), and print the profile line for your shell',
  builder: (y: Argv<object>) =>
    y
      .option('uninstall', { type: 'boolean', describe: 'stop the socket and service and remove the unit files setup wrote' })
      .option('shell', { type: 'string', choices: SHELLS, describe: 'the shell to print the profile line for (default: from $SHELL)' })
      .option('enable', { type: 'boolean', default: true, describe: 'enable and start the socket; --no-enable only writes the unit files' })
      .epilog(
        examplesEpilog([
          ['tt-agent setup', 'then add the printed line to your shell profile'],
          ['tt-agent setup --uninstall', 'undo it'],
        ]),
      ) as Argv<SetupArgs>,
  handler: (argv) => {
    const dir = unitDir();
    if (argv.uninstall) uninstall(dir);
    else install(dir, argv.enable !== false, argv.shell ?? basename(process.env.SHELL ?? 'sh'));
  },
};

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function install(dir: string, enable: boolean, shell: string): void {
  for (const name of UNITS) {
    const outcome = writeUnit(dir, name);
    if (outcome === 'kept') {
      throw new UserError(
        `${join(dir, name)} exists and was not written by tt-agent setup; it is left as it is.`,
        `Move it away (or remove it) and run tt-agent setup again; ${join(CONTRIB, name)} is the unit setup installs.`,
      );
    }
    say(`${name}: ${outcome} (${join(dir, name)})`);
  }
  if (enable) {
    const manager = userManagerRunning();
    if (manager.ok) {
      userSystemctl(['daemon-reload']);
      const r = userSystemctl(['enable', '--now', 'tt-agent.socket']);
      if (!r.ok) throw new UserError(`systemctl --user enable --now tt-agent.socket failed: ${r.why}`, 'See: systemctl --user status tt-agent.socket');
      say('tt-agent.socket: enabled and listening (the agent starts on the first connection)');
    } else {
      const link = enableLink(dir) === 'unchanged' ? 'already enabled' : 'enabled';
      say(`tt-agent.socket: ${link}; not started now: the user manager is not reachable (${manager.why})`);
      say('  It starts at your next login, or now with: systemctl --user start tt-agent.socket');
    }
  }
  say('');
  say(profileLine(shell));
}

/** What the user adds to the profile of `shell`: the snippet that finds the agent without Node. */
export function profileLine(shell: string): string {
  switch (shell) {
    case 'fish':
      return `For fish, link the snippet into conf.d:\n  ln -sf ${join(CONTRIB, 'tt-agent.fish')} ~/.config/fish/conf.d/tt-agent.fish`;
    case 'zsh':
      return `Add this line to ~/.zprofile:\n  . ${join(CONTRIB, 'profile.zsh')}`;
    case 'csh':
    case 'tcsh':
      return 'Add this line to ~/.login:\n  eval `tt-agent -c`';
    default:
      return `Add this line to ~/.profile${shell === 'bash' ? ' (or ~/.bash_profile if you have one)' : ''}:\n  . ${join(CONTRIB, 'profile.sh')}`;
  }
}

function uninstall(dir: string): void {
  const manager = userManagerRunning();
  if (manager.ok) {
    userSystemctl(['disable', '--now', 'tt-agent.socket']);
    userSystemctl(['stop', 'tt-agent.service']);
  }
  const outcomes: Array<[string, Outcome]> = [['sockets.target.wants/tt-agent.socket', disableLink(dir)]];
  for (const name of UNITS) outcomes.push([name, removeUnit(dir, name)]);
  if (manager.ok) userSystemctl(['daemon-reload']);
  for (const [name, outcome] of outcomes) {
    say(`${name}: ${outcome === 'kept' ? 'kept (not written by tt-agent setup)' : outcome === 'absent' ? 'nothing to remove' : outcome}`);
  }
  say('Remove the tt-agent line from your shell profile too, if you added one.');
}
