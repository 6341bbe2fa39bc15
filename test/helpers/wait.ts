// Waiting on a condition, never a fixed sleep: polls `cond` until it holds, or fails naming
// what it waited for.

/** Resolves once `cond()` is true; rejects with "timed out waiting for WHAT" after `timeoutMs`. */
export async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string, pollMs = 20): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
