/**
 * The node:crypto signature backend: the token parsed once (compact-jws.ts), the key chosen by
 * the same resolver as the WebCrypto path, and one synchronous `crypto.verify` on a `KeyObject`
 * prepared once per key (node-crypto-keys.ts); what that saves per miss is measured by
 * bench/miss.ts (README, "The miss path"). A key the JWS carries (a DPoP proof's `jwk`) is made a
 * `KeyObject` from its JWK instead (node-crypto-keys.ts); bench/dpop-hit.ts measures that path.
 * Available wherever `process.getBuiltinModule` offers node:crypto and node:buffer (Node, Bun,
 * Deno; no `node:*` import, so edge bundles stay Web-standard). Whether a runtime *uses* it is
 * jws-backend.ts's choice: where the differential tests hold it equal to jose's and it is the
 * faster (Node and Bun).
 */
import { errors as jose } from 'jose';
import type { VerificationKey } from '../idp/jwks.js';
import { thenMaybe } from '../shared/maybe-promise.js';
import { type ParsedJws, parseCompactJws } from './compact-jws.js';
import type { JwsBackend, VerifiedJws } from './jws-backend.js';
import { type NodeCrypto, NodeCryptoKeys } from './node-crypto-keys.js';

/**
 * The part of node:buffer used here: exact decoding of canonical base64url and ASCII to bytes,
 * about 5 times faster than jose's `atob`-based decoder (three segments per miss). Taken from the
 * module, never the `Buffer` global.
 */
interface NodeBuffer {
  Buffer: { from(text: string, encoding: 'base64url' | 'latin1'): Uint8Array };
}
interface MaybeNodeProcess {
  process?: { getBuiltinModule?: (id: string) => unknown };
}

function nodeModules(): { crypto: NodeCrypto; buffer: NodeBuffer } | undefined {
  const runtime = (globalThis as MaybeNodeProcess).process;
  const crypto = runtime?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;
  const buffer = runtime?.getBuiltinModule?.('node:buffer') as NodeBuffer | undefined;
  if (typeof crypto?.KeyObject?.from !== 'function' || typeof buffer?.Buffer?.from !== 'function') return;
  return { crypto, buffer };
}

function createNodeCryptoJws(modules: { crypto: NodeCrypto; buffer: NodeBuffer }): JwsBackend {
  const bytes = modules.buffer.Buffer;
  const keys = new NodeCryptoKeys(modules.crypto);
  const decode = (segment: string) => bytes.from(segment, 'base64url');
  const checked = (jws: ParsedJws, key: VerificationKey | Uint8Array): VerifiedJws => {
    const verify = keys.verifierFor(jws.alg, key);
    if (!verify(bytes.from(jws.signingInput, 'latin1'), jws.signature)) throw new jose.JWSSignatureVerificationFailed();
    // An unencoded payload is its own bytes, as jose returns it.
    const payload = jws.b64 ? decode(jws.segments.payload) : bytes.from(jws.segments.payload, 'latin1');
    return { protectedHeader: jws.header, payload, b64: jws.b64 };
  };
  return {
    name: 'node:crypto',
    decode,
    // Synchronous when the key is at hand: parsing, the key and the one-shot verify need no promise.
    verify(token, resolveKey, algorithms) {
      const jws = parseCompactJws(token, algorithms, decode);
      return thenMaybe(resolveKey(jws.header, jws.segments), (key) => checked(jws, key));
    },
    async embeddedKey(alg, jwk) {
      const verify = keys.verifierForJwk(alg, jwk);
      return (signingInput, signature) => verify(bytes.from(signingInput, 'latin1'), decode(signature));
    },
  };
}

const modules = nodeModules();

/** The backend, or undefined where the runtime offers no node:crypto (workerd, browsers). */
export const nodeCryptoJws: JwsBackend | undefined = modules && createNodeCryptoJws(modules);
