// The one fixed TCP port the tests use, and the rule that keeps every other test server off it.
// pcscd's vpcd driver (the emulated card's reader) listens on 35963, which lies in the kernel's
// ephemeral range; freePort() asks the kernel for a port, and bind(0) favours odd ports like
// this one. A test server there (sshd, swtpm and its control port at port + 1) would hold it,
// and a connection it accepted can outlive the server, bound and listed nowhere.

/** The kit's reader: pcscd's vpcd driver listens on this fixed TCP port (CHANNELID 0x8C7B). */
export const VPCD_PORT = 0x8c7b;

/** Whether `port` (or the port after it, a control channel) is the vpcd port or next to it. */
export function nearVpcdPort(port: number): boolean {
  return Math.abs(port - VPCD_PORT) <= 1;
}
