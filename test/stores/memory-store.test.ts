import { describe, expect, it } from '@jest/globals';
import { createMemoryStore } from '../../src/index.js';
import { revocationStoreContract } from './store-contract.js';

revocationStoreContract('memory store', {
  create: async (clock) => createMemoryStore({ clock }),
});

describe('memory store: replay records, one cap per kind', () => {
  const CAP = 100_000;
  const fill = async (store: ReturnType<typeof createMemoryStore>, prefix: string) => {
    for (let i = 0; i < CAP; i++) await store.claimOnce(`${prefix}${i}`, 600_000);
  };

  it('DPoP proofs filling their cap leave logout tokens and security events their own', async () => {
    // Before: one cap for every kind, so ~330 DPoP requests/s over a 5-minute window made
    // back-channel logout answer 503.
    const store = createMemoryStore({ clock: () => 1_000_000 });
    await fill(store, 'dpop:jkt:');
    await expect(store.claimOnce('dpop:jkt:one-more', 600_000)).rejects.toThrow(
      'revocable-jwt: the memory store holds 100000 live DPoP proof replay records; refusing to forget one',
    );
    expect(await store.claimOnce('bcl:https%3A%2F%2Fidp.example%2F:jti-1', 600_000)).toBe(true);
    expect(await store.claimOnce('set:https%3A%2F%2Fidp.example%2F:jti-1', 600_000)).toBe(true);
    expect(await store.claimOnce('an-application-key', 600_000)).toBe(true);
    expect(await store.claimOnce('dpop:jkt:0', 600_000)).toBe(false); // nothing was forgotten
  });

  it('and logout tokens filling theirs leave DPoP proofs theirs; other keys share one cap of their own', async () => {
    let now = 1_000_000;
    const store = createMemoryStore({ clock: () => now });
    await fill(store, 'bcl:issuer:');
    await expect(store.claimOnce('bcl:issuer:one-more', 600_000)).rejects.toThrow(/100000 live logout token replay/);
    expect(await store.claimOnce('dpop:jkt:jti', 600_000)).toBe(true);
    await fill(store, 'app:');
    await expect(store.claimOnce('no-prefix', 600_000)).rejects.toThrow(/100000 live other replay records/);
    now += 601_000;
    expect(await store.claimOnce('bcl:issuer:after', 1000)).toBe(true); // expired records made room
  });
});
