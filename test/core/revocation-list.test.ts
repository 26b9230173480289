import { describe, expect, it } from '@jest/globals';
import { RevocationList } from '../../src/core/revocation-list.js';

const now = 1_800_000_000_000;
const payload = (sub: string, iat?: number) => ({ sub, ...(iat === undefined ? {} : { iat }) });

describe('RevocationList', () => {
  it('is empty and accepts everything at first', () => {
    const list = new RevocationList();
    expect(list.isRevoked('k', payload('a', 1), now)).toBe(false);
  });

  it('denylists by key until expiresAt, then forgets on sweep', () => {
    const list = new RevocationList();
    list.apply({ type: 'token', key: 'k', expiresAt: now + 1000 });
    expect(list.isRevoked('k', payload('a', 1), now)).toBe(true);
    expect(list.isRevoked('other', payload('a', 1), now)).toBe(false);
    expect(list.isRevoked('k', payload('a', 1), now + 1000)).toBe(false);
    expect(list.sweep(now + 1000)).toBe(1);
    expect(list.size.tokens).toBe(0);
  });

  it('subject cutoff: iat <= cutoff revoked, later accepted, other subjects untouched', () => {
    const list = new RevocationList();
    list.apply({ type: 'subject', subject: 'alice', cutoff: 100, expiresAt: now + 1000 });
    expect(list.isRevoked('k', payload('alice', 99), now)).toBe(true);
    expect(list.isRevoked('k', payload('alice', 100), now)).toBe(true);
    expect(list.isRevoked('k', payload('alice', 101), now)).toBe(false);
    expect(list.isRevoked('k', payload('alice'), now)).toBe(true);
    expect(list.isRevoked('k', payload('bob', 1), now)).toBe(false);
    expect(list.isRevoked('k', payload('alice', 1), now + 1000)).toBe(false);
  });

  it('keeps the later cutoff when two arrive out of order', () => {
    const list = new RevocationList();
    list.apply({ type: 'subject', subject: 'alice', cutoff: 200, expiresAt: now + 1000 });
    list.apply({ type: 'subject', subject: 'alice', cutoff: 100, expiresAt: now + 500 });
    expect(list.isRevoked('k', payload('alice', 150), now + 600)).toBe(true);
    list.apply({ type: 'all', cutoff: 300, expiresAt: now + 1000 });
    list.apply({ type: 'all', cutoff: 250, expiresAt: now + 1000 });
    expect(list.isRevoked('k', payload('zed', 280), now)).toBe(true);
  });

  it('entries() lists what is in force, and only that', () => {
    const list = new RevocationList();
    list.apply({ type: 'token', key: 'old', expiresAt: now + 10 });
    list.apply({ type: 'token', key: 'new', expiresAt: now + 1000 });
    list.apply({ type: 'subject', subject: 'alice', cutoff: 5, expiresAt: now + 1000 });
    expect(list.entries(now + 100)).toEqual([
      { type: 'token', key: 'new', expiresAt: now + 1000 },
      { type: 'subject', subject: 'alice', cutoff: 5, expiresAt: now + 1000 },
    ]);
  });
});
