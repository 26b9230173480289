/**
 * One rule for units. Every duration a user passes in options is in **seconds** (fractions allowed,
 * e.g. 0.25), with no unit in its name; an instant is epoch milliseconds (what `Date.now()` and the
 * `clock` option return); internal and store-implementer fields in milliseconds end in `Ms`
 * (`ttlMs`, `syncTimeoutMs`). Options are converted to milliseconds once, where they are resolved.
 *
 * Waits (`timeout`, `commandTimeout`, `syncTimeout`) are bounded above so that a value written in
 * milliseconds (`timeout: 5000`) fails at construction instead of meaning 83 minutes.
 */

/** The longest wait on the IdP or the store a request may sit through, in seconds. */
export const MAX_WAIT_SECONDS = 60;

export interface DurationRule {
  /** Used when the option is unset, in seconds; also the example the messages give. */
  default: number;
  /** 0 is meaningful (a tolerance, a cooldown, a policy that never waits): `>= 0` instead of `> 0`. */
  allowZero?: boolean;
  /** The longest sensible value, in seconds: past it a value most likely meant milliseconds. */
  max?: number;
  /**
   * Why values past `max` are refused, when the reason is not a unit mix-up (e.g. a leeway that
   * would keep expired tokens alive).
   */
  tooLong?: string;
}

/**
 * The option `name` in seconds: `value`, or `rule.default` when unset. Anything else than a finite
 * number within the rule is a TypeError that says how to fix it; `factory` names the caller in it.
 */
export function durationSeconds(value: unknown, name: string, rule: DurationRule, factory?: string): number {
  if (value === undefined) return rule.default;
  const fail = (message: string): never => {
    throw new TypeError(`revocable-jwt: ${factory === undefined ? '' : `${factory}: `}${message}`);
  };
  const { allowZero = false, max } = rule;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (value === 0 && !allowZero)) {
    const range = `${allowZero ? '>= 0' : '> 0'}${max === undefined ? '' : ` and <= ${max}`}`;
    fail(`\`${name}\` must be a number of seconds ${range}, e.g. ${rule.default}`);
  }
  const seconds = value as number;
  if (max !== undefined && seconds > max && rule.tooLong !== undefined) {
    fail(`\`${name}\` is at most ${max} seconds (${seconds} given): ${rule.tooLong}`);
  }
  if (max !== undefined && seconds > max) {
    fail(
      `\`${name}\` is in seconds (e.g. ${rule.default}), at most ${max}; ` +
        `${seconds} looks like milliseconds (${seconds} ms = ${seconds / 1000} s)`,
    );
  }
  return seconds;
}

/**
 * {@link durationSeconds} in whole milliseconds, for timers and clock arithmetic (`AbortSignal.timeout`
 * takes integers only). A positive duration never rounds down to 0, which would not wait at all.
 */
export function durationMs(value: unknown, name: string, rule: DurationRule, factory?: string): number {
  return wholeMs(durationSeconds(value, name, rule, factory));
}

function wholeMs(seconds: number): number {
  return seconds === 0 ? 0 : Math.max(1, Math.round(seconds * 1000));
}
