/**
 * Freezes a value and everything in it. For what many callers share: a verified result (every
 * request presenting the token gets it, from the cache or from the verification in flight), a
 * parsed header (every token that carries it), so none may change what the others see.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}
