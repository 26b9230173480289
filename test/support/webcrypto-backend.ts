/**
 * Import first in a test file to run that file's verifiers on the WebCrypto signature backend
 * (jose's `compactVerify`, what runs on Deno and workerd) instead of node:crypto; DPoP proofs'
 * own keys too (jose's `importJWK` and `crypto.subtle.verify`). Jest gives every test file its own module
 * registry, so this reaches that file's verifiers only. It counts the checks the WebCrypto path
 * made and refuses, after the file's tests, a run that never used it.
 */
import { afterAll, expect } from '@jest/globals';
import { forceJwsBackendForTests, jwsBackend } from '../../src/core/verify/jws-backend.js';

const webCrypto = jwsBackend('webcrypto')!;
let checks = 0;
forceJwsBackendForTests({
  name: 'webcrypto',
  decode: webCrypto.decode,
  verify(token, key, algorithms) {
    checks += 1;
    return webCrypto.verify(token, key, algorithms);
  },
  async embeddedKey(alg, jwk) {
    const check = await webCrypto.embeddedKey(alg, jwk);
    return (signingInput, signature) => {
      checks += 1;
      return check(signingInput, signature);
    };
  },
});

afterAll(() => {
  expect(checks).toBeGreaterThan(0);
});
