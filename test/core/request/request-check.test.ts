import { describe, expect, it } from '@jest/globals';
import type { Presentation, RequestCheck, ResponseHeaders } from '../../../src/core/request/request-check.js';
import { runChecks } from '../../../src/core/request/request-check.js';
import type { VerifiedToken } from '../../../src/core/shared/verified-token.js';

const auth = { payload: {}, protectedHeader: {} } as unknown as VerifiedToken;
const presented: Presentation = { request: { headers: {} }, scheme: 'Bearer', token: 't' };
const headers: ResponseHeaders = { set() {} };

describe('runChecks', () => {
  it('answers synchronously while every check does, in order', () => {
    const seen: number[] = [];
    const checks: RequestCheck[] = [() => void seen.push(1), () => void seen.push(2)];
    expect(runChecks(checks, auth, presented, headers)).toBeUndefined();
    expect(seen).toEqual([1, 2]);
  });

  it('chains the checks after the first asynchronous one, and stops at the first refusal', async () => {
    const seen: number[] = [];
    const checks: RequestCheck[] = [
      () => void seen.push(1),
      async () => void seen.push(2),
      () => {
        seen.push(3);
        throw new Error('refused');
      },
      () => void seen.push(4),
    ];
    const pending = runChecks(checks, auth, presented, headers);
    expect(seen).toEqual([1, 2]);
    await expect(pending).rejects.toThrow('refused');
    expect(seen).toEqual([1, 2, 3]);
  });

  it('throws a synchronous refusal synchronously', () => {
    const checks: RequestCheck[] = [
      () => {
        throw new Error('no');
      },
    ];
    expect(() => runChecks(checks, auth, presented, headers)).toThrow('no');
  });
});
