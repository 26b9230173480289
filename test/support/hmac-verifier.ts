/**
 * The verifier the attack passes aim at: HS256 under a shared secret (tokens are signed in the
 * test, no IdP), with a memory store, both on the test's injected clock. Callers keep their own
 * list of what to close after each test.
 */
import { createMemoryStore, createVerifier, type Verifier } from '../../src/index.js';
import type { testClock } from './idp.js';

/** Who issues the tokens and what they are for. */
export interface HmacSite {
  issuer: string;
  audience: string;
  secret: Uint8Array;
}

/** A verifier of `site`'s HS256 tokens and its store; `extra` adds or overrides verifier options. */
export function createHmacVerifier(
  site: HmacSite,
  clock: ReturnType<typeof testClock>,
  extra: Record<string, unknown> = {},
): { verifier: Verifier; store: ReturnType<typeof createMemoryStore> } {
  const store = createMemoryStore({ clock });
  const verifier = createVerifier({
    issuer: site.issuer,
    audience: site.audience,
    algorithms: ['HS256'],
    secret: site.secret,
    clock,
    store,
    ...extra,
  });
  return { verifier, store };
}
