/**
 * Polls `condition` until it holds. For things no injected clock can speed up (a message crossing
 * Redis pub/sub, a child process reconnecting); fails with `what` if it never happens.
 */
export async function waitFor<T>(condition: () => T | Promise<T>, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
