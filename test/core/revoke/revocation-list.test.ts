import { describe, expect, it } from '@jest/globals';
import { revocationKeysFor } from '../../../src/core/revoke/revocation-identity.js';
import { RevocationList } from '../../../src/core/revoke/revocation-list.js';
import { digestKey, tokenDigestOf } from '../../../src/core/shared/token-digest.js';

const now = 1_800_000_000_000;
const ISS = 'https://idp.example';
const keysOf = (claims: { sub?: string; sid?: string; jti?: string; iss?: string }) =>
  revocationKeysFor({ token: 'token-string', payload: { iss: ISS, jti: 'j', ...claims }, source: 'jwt' });

describe('RevocationList', () => {
  it('is empty and accepts everything at first', () => {
    expect(new RevocationList().isRevoked(keysOf({ sub: 'a' }), 1, now)).toBe(false);
  });

  it('denylists by key until expiresAt, then forgets on sweep', () => {
    const list = new RevocationList();
    const keys = keysOf({ sub: 'a', jti: 'k' });
    list.apply({ type: 'token', key: keys.denylist, expiresAt: now + 1000 });
    expect(list.isRevoked(keys, 1, now)).toBe(true);
    expect(list.isRevoked(keysOf({ sub: 'a', jti: 'other' }), 1, now)).toBe(false);
    expect(list.isRevoked(keys, 1, now + 1000)).toBe(false);
    expect(list.sweep(now + 1000)).toBe(1);
    expect(list.size.tokens).toBe(0);
  });

  it('subject cutoff: iat <= cutoff revoked, later accepted, other subjects and issuers untouched', () => {
    const list = new RevocationList();
    list.apply({ type: 'subject', issuer: ISS, subject: 'alice', cutoff: 100, expiresAt: now + 1000 });
    const alice = keysOf({ sub: 'alice' });
    expect(list.isRevoked(alice, 99, now)).toBe(true);
    expect(list.isRevoked(alice, 100, now)).toBe(true);
    expect(list.isRevoked(alice, 101, now)).toBe(false);
    expect(list.isRevoked(alice, undefined, now)).toBe(true);
    expect(list.isRevoked(keysOf({ sub: 'bob' }), 1, now)).toBe(false);
    expect(list.isRevoked(keysOf({ sub: 'alice', iss: 'https://other.example' }), 1, now)).toBe(false);
    expect(list.isRevoked(alice, 1, now + 1000)).toBe(false);
  });

  it('a cutoff covers its entire second, whatever the iat precision (iat < cutoff + 1)', () => {
    const list = new RevocationList();
    list.apply({ type: 'subject', issuer: ISS, subject: 'alice', cutoff: 100, expiresAt: now + 1000 });
    const alice = keysOf({ sub: 'alice' });
    for (const iat of [99.5, 100, 100.5, 100.999]) expect(list.isRevoked(alice, iat, now)).toBe(true);
    for (const iat of [101, 101.001]) expect(list.isRevoked(alice, iat, now)).toBe(false);
  });

  it('session cutoff applies to tokens carrying that sid only', () => {
    const list = new RevocationList();
    list.apply({ type: 'session', issuer: ISS, session: 's1', cutoff: 100, expiresAt: now + 1000 });
    expect(list.isRevoked(keysOf({ sub: 'a', sid: 's1' }), 50, now)).toBe(true);
    expect(list.isRevoked(keysOf({ sub: 'a', sid: 's2' }), 50, now)).toBe(false);
    expect(list.isRevoked(keysOf({ sub: 'a' }), 50, now)).toBe(false);
  });

  it('keeps the later cutoff when two arrive out of order; the global cutoff is per issuer', () => {
    const list = new RevocationList();
    list.apply({ type: 'subject', issuer: ISS, subject: 'alice', cutoff: 200, expiresAt: now + 1000 });
    list.apply({ type: 'subject', issuer: ISS, subject: 'alice', cutoff: 100, expiresAt: now + 500 });
    expect(list.isRevoked(keysOf({ sub: 'alice' }), 150, now + 600)).toBe(true);
    list.apply({ type: 'all', issuer: ISS, cutoff: 300, expiresAt: now + 1000 });
    list.apply({ type: 'all', issuer: ISS, cutoff: 250, expiresAt: now + 1000 });
    expect(list.isRevoked(keysOf({ sub: 'zed' }), 280, now)).toBe(true);
    expect(list.isRevoked(keysOf({ sub: 'zed', iss: 'https://other.example' }), 280, now)).toBe(false);
  });

  it('entries() lists what is in force, and only that; tokens by their digest', () => {
    const list = new RevocationList();
    list.apply({ type: 'token', key: 'old', expiresAt: now + 10 });
    list.apply({ type: 'token', key: 'new', expiresAt: now + 2000 });
    list.apply({ type: 'subject', issuer: ISS, subject: 'alice', cutoff: 5, expiresAt: now + 1500 });
    expect(list.entries(now + 1000)).toEqual([
      { type: 'token', key: digestKey(tokenDigestOf('new')), expiresAt: now + 2000 },
      { type: 'subject', issuer: ISS, subject: 'alice', cutoff: 5, expiresAt: now + 1500 },
    ]);
  });
});
