/**
 * A background timer (a sweep, a retry, a poll) must not keep a process alive on its own. Node and
 * Bun timers say so with `unref()`; workerd's and the browsers' are numbers, and there is no
 * process to keep alive there: nothing to do.
 */
export function unrefTimer(timer: unknown): void {
  if (typeof timer === 'object' && timer !== null && 'unref' in timer && typeof timer.unref === 'function') {
    timer.unref();
  }
}
