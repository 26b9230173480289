/**
 * The WebCrypto signature backend: jose's `compactVerify`, as the verifier used everywhere before
 * node:crypto was added, and still where Node is not the runtime (workerd, Deno, Bun, browsers).
 */
import { compactVerify } from 'jose';
import type { JwsBackend } from './jws-backend.js';

export const webCryptoJws: JwsBackend = {
  name: 'webcrypto',
  async verify(token, key, algorithms) {
    const { payload, protectedHeader } = await compactVerify(token, key, { algorithms: [...algorithms] });
    // jose has checked `crit`: when it names b64, `b64` is a boolean.
    const b64 = !(Array.isArray(protectedHeader.crit) && protectedHeader.crit.includes('b64')) || protectedHeader.b64;
    return { protectedHeader, payload, b64: b64 !== false };
  },
};
