// Sends SIGTERM to an agent a test started in the background; one that is gone already is fine.
export function stopPid(pid: number): void {
  try {
    process.kill(pid, 'SIGTERM');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}
