/**
 * Freezes a value and everything in it. For what many callers share: a verified result (every
 * request presenting the token gets it, from the cache or from the verification in flight), a
 * parsed header (every token that carries it), so none may change what the others see.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    // Recursing only into objects: a claims set is mostly strings and numbers (half the cost).
    for (const member of Object.values(value)) if (typeof member === 'object' && member !== null) deepFreeze(member);
  }
  return value;
}
