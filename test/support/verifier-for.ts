/**
 * The verifiers a test file makes, made one way and closed together. Jest gives every test file
 * its own copy of this module, so `closeVerifiers()` closes that file's verifiers only.
 */
import { createVerifier, type Verifier, type VerifierOptions } from '../../src/index.js';

/** Whatever names an issuer and the audience its tokens carry: the embedded IdP, a fake IdP. */
export interface TrustedIssuer {
  issuer: string;
  audience: string;
}

const open: Verifier[] = [];

/**
 * A verifier for `idp`'s tokens (its issuer and audience, unless `overrides` say otherwise),
 * closed by {@link closeVerifiers}.
 */
export function verifierFor(idp: TrustedIssuer, overrides: Partial<VerifierOptions> = {}): Verifier {
  return closedLater(createVerifier({ issuer: idp.issuer, audience: idp.audience, ...overrides }));
}

/** Tracks a verifier made some other way (another `createVerifier` call), so {@link closeVerifiers} closes it too. */
export function closedLater(verifier: Verifier): Verifier {
  open.push(verifier);
  return verifier;
}

/** Closes every verifier made so far: call it from `afterEach` or `afterAll`. */
export async function closeVerifiers(): Promise<void> {
  await Promise.all(open.splice(0).map((verifier) => verifier.close()));
}
