/** unrefTimer alone: a Node/Bun timer is unref'd; a timer that is a number (workerd, browsers) is left alone. */
import { describe, expect, it, jest } from '@jest/globals';
import { unrefTimer } from '../../../src/core/shared/unref-timer.js';

describe('unrefTimer', () => {
  it('unrefs a timer object (a Node timer no longer keeps the process alive)', () => {
    const timer = setTimeout(() => {}, 60_000);
    try {
      expect(timer.hasRef()).toBe(true);
      unrefTimer(timer);
      expect(timer.hasRef()).toBe(false);
    } finally {
      clearTimeout(timer);
    }
  });

  it('leaves a numeric timer id, or anything without unref(), alone', () => {
    expect(() => unrefTimer(42)).not.toThrow();
    expect(() => unrefTimer({ unref: 'no' })).not.toThrow();
    const unref = jest.fn();
    unrefTimer({ unref });
    expect(unref).toHaveBeenCalledTimes(1);
  });
});
