/**
 * A value now, or a promise of it where getting it needs I/O or asynchronous crypto. The miss
 * path passes values along as they come: a token whose key is already imported, with no
 * introspection or status list to wait for, is verified without a single promise or microtask,
 * as a cache hit is answered. Over HTTP each promise hop costs more than in a loop (bench/README,
 * "The miss path"), so the synchronous case is the one worth keeping free of them.
 */
export type MaybePromise<T> = T | Promise<T>;

/**
 * Whether `value` is a promise. Duck-typed, so a promise from another realm (a test runner's
 * context, another copy of a library) counts too; the values passed along here (verified tokens,
 * keys, parsed JWSs) are objects of ours, never thenables.
 */
export function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return value instanceof Promise || typeof (value as { then?: unknown } | undefined)?.then === 'function';
}

/** What `run` gives, as a promise: a value resolved, a throw rejected (an API that never throws synchronously). */
export function promiseOf<T>(run: () => MaybePromise<T>): Promise<T> {
  try {
    const outcome = run();
    return isPromise(outcome) ? outcome : Promise.resolve(outcome);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** `next` applied to `value`: at once to a value, once settled to a promise (a throw in `next` then rejects). */
export function thenMaybe<T, R>(value: MaybePromise<T>, next: (value: T) => MaybePromise<R>): MaybePromise<R> {
  return isPromise(value) ? value.then(next) : next(value);
}
