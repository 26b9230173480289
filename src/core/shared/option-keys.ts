/**
 * Option objects are checked key by key: in plain JavaScript a misspelt option (`scope` for
 * `scopes`) would otherwise be ignored, and the default it leaves in place can be the opposite of
 * what was meant (no scope required at all). Every factory lists the keys it accepts, next to its
 * options interface, with {@link optionKeys}; the compiler keeps that list complete.
 */

/**
 * The keys of the options interface `T`, as a runtime list. The argument must name every key of
 * `T` and nothing else (the compiler checks both), so adding an option is one line here:
 * `optionKeys<FooOptions>({ a: true, b: true })`.
 */
export function optionKeys<T extends object>(keys: { [K in keyof Required<T>]: true }): readonly string[] {
  return Object.freeze(Object.keys(keys));
}

/**
 * Throws a TypeError for the first key of `options` that `allowed` does not list, naming the
 * closest valid key: "unknown option `scope` in authGuard; did you mean `scopes`?". `path`
 * prefixes nested keys (`cache.`, `issuers[1].`).
 */
export function rejectUnknownKeys(options: object, allowed: readonly string[], factory: string, path = ''): void {
  for (const key of Object.keys(options)) {
    if (allowed.includes(key)) continue;
    const suggestion = closestKey(key, allowed);
    const hint =
      suggestion !== undefined
        ? `did you mean \`${path}${suggestion}\`?`
        : `valid options: ${allowed.map((k) => path + k).join(', ')}`;
    throw new TypeError(`revocable-jwt: unknown option \`${path}${key}\` in ${factory}; ${hint}`);
  }
}

/**
 * Throws when a credential-like option is present but holds nothing: `clientSecret:
 * process.env.UNSET` must not quietly mean "no secret" (a public client, no authentication).
 */
export function rejectUnsetValue(options: object, key: string, factory: string, path = ''): void {
  if (!Object.hasOwn(options, key)) return;
  const value = (options as Record<string, unknown>)[key];
  if (value !== undefined && value !== null && value !== '') return;
  const what = value === '' ? 'an empty string' : String(value);
  throw new TypeError(
    `revocable-jwt: \`${path}${key}\` is ${what} in ${factory}: ` +
      'is the environment variable that should hold it unset? ' +
      'Set it, or remove the key if you really mean to go without it',
  );
}

/** The allowed key nearest to `key` (case-insensitive edit distance), if it is near enough to be a typo. */
export function closestKey(key: string, allowed: readonly string[]): string | undefined {
  const wanted = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of allowed) {
    const distance = editDistance(wanted, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // A third of the name may be wrong (`jwksUrl`, `scope`, `maxTTL`), but at least 2 edits.
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

/** Levenshtein distance, two rows. Option names are short: this is never hot. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
