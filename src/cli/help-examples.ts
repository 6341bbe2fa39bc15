// Examples for a command's --help. yargs sets .example() in two columns and breaks a long
// command in the middle, so a user copying it gets half a command; here each example is one
// whole line, with what it does on the line under it.
export function examplesEpilog(examples: readonly (readonly [command: string, what: string])[]): string {
  return `Examples:\n${examples.map(([command, what]) => `  ${command}${what ? `\n      ${what}` : ''}`).join('\n')}`;
}
