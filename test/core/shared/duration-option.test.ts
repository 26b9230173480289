import { describe, expect, it } from '@jest/globals';
import { durationMs, durationSeconds, MAX_WAIT_SECONDS } from '../../../src/core/shared/duration-option.js';

/**
 * The one check behind every duration option (verifier, Redis store, notification routes): seconds
 * in, whole milliseconds out where a timer or the clock needs them.
 */
describe('durationSeconds / durationMs', () => {
  const wait = { default: 5, max: MAX_WAIT_SECONDS };

  it('takes the default when unset, and any finite number of seconds within the rule', () => {
    expect(durationSeconds(undefined, 'timeout', wait)).toBe(5);
    expect(durationSeconds(0.25, 'timeout', wait)).toBe(0.25);
    expect(durationSeconds(60, 'timeout', wait)).toBe(60);
    expect(durationSeconds(0, 'clockTolerance', { default: 5, allowZero: true })).toBe(0);
  });

  it.each<[number, number]>([
    [5, 5_000],
    [0.25, 250],
    [1.1, 1_100], // 1.1 * 1000 is 1100.0000000000002: AbortSignal.timeout() takes integers only
    [0.0001, 1], // a positive wait never becomes 0, which would not wait at all
    [2.5, 2_500],
  ])('%s s is %s ms, a whole number', (seconds, ms) => {
    expect(durationMs(seconds, 'timeout', wait)).toBe(ms);
  });

  it('0 stays 0 where the rule allows it', () => {
    expect(durationMs(0, 'jwksCooldown', { default: 30, allowZero: true })).toBe(0);
  });

  it('names the factory when given one, and says how to fix the value', () => {
    expect(() => durationMs(5000, 'syncTimeout', wait, 'createRedisStore')).toThrow(
      new TypeError(
        'revocable-jwt: createRedisStore: `syncTimeout` is in seconds (e.g. 5), at most 60; ' +
          '5000 looks like milliseconds (5000 ms = 5 s)',
      ),
    );
    expect(() => durationSeconds(-1, 'jwksMaxAge', { default: 600 })).toThrow(
      new TypeError('revocable-jwt: `jwksMaxAge` must be a number of seconds > 0, e.g. 600'),
    );
  });
});
