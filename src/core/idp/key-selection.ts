/**
 * One key set's key selection: jose's `createLocalJWKSet` (kid, alg/kty/crv, use, key_ops, and
 * the key's import) with its answers remembered. Selection is a pure function of the header's
 * `alg` and `kid` and of the set, so a remembered key is handed over at once: no filtering pass,
 * no allocation, no promise, which keeps a miss synchronous (node-crypto-jws.ts). Each fetched or
 * configured set gets its own, so nothing remembered outlives its set.
 */
import {
  createLocalJWKSet,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWK,
  type JWSHeaderParameters,
} from 'jose';

type KeySelector = ReturnType<typeof createLocalJWKSet>;
/** The public key object jose hands back (a WebCrypto CryptoKey). */
export type VerificationKey = Awaited<ReturnType<KeySelector>>;

/**
 * At most this many (alg, kid) selections are remembered per key set; past it the memo starts
 * over. Only selections that found a key are kept, so the bound is keys × allowed algorithms in
 * practice, and made-up kids (which find none) never enter it.
 */
const MAX_REMEMBERED_SELECTIONS = 64;

export class KeySelection {
  private readonly selector: KeySelector;
  private readonly remembered = new Map<string, VerificationKey>();
  /**
   * The same answers by header object, for frozen headers: compact-jws.ts hands every token with
   * one header segment the same frozen object, so a miss finds its key by identity instead of
   * building and hashing an `alg`/`kid` string (a kid is often 43 characters). Frozen, so the
   * `alg` and `kid` it was chosen by cannot change under it; weak, so it holds no header alive.
   */
  private byHeader = new WeakMap<JWSHeaderParameters, VerificationKey>();

  constructor(keys: readonly JWK[]) {
    this.selector = createLocalJWKSet({ keys } as JSONWebKeySet);
  }

  /** The key remembered for this header, if any. */
  known(header: JWSHeaderParameters, token: FlattenedJWSInput): VerificationKey | undefined {
    if (token.header !== undefined) return undefined;
    const frozen = Object.isFrozen(header);
    const same = frozen ? this.byHeader.get(header) : undefined;
    if (same !== undefined) return same;
    const memo = selectionKey(header);
    const key = memo === undefined ? undefined : this.remembered.get(memo);
    if (key !== undefined && frozen) this.byHeader.set(header, key);
    return key;
  }

  /** jose's selection (rejects as jose does: no matching key, several kid-less ones), remembered. */
  async select(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<VerificationKey> {
    // Not remembered: a JWS with an unprotected header (flattened form), which may name the kid
    // too, and a kid that is not a string, which jose matches against no key.
    const memo = token.header === undefined ? selectionKey(header) : undefined;
    if (memo === undefined) return this.selector(header, token);
    const known = this.remembered.get(memo);
    if (known !== undefined) return known;
    const key = await this.selector(header, token);
    if (this.remembered.size >= MAX_REMEMBERED_SELECTIONS) {
      this.remembered.clear();
      this.byHeader = new WeakMap();
    }
    this.remembered.set(memo, key);
    return key;
  }
}

/**
 * The memo key of a selection: alg, and kid when the header names one (a kid-less token matches
 * by type); undefined for a header jose would judge otherwise (no string alg, a non-string kid).
 */
function selectionKey(header: JWSHeaderParameters): string | undefined {
  if (typeof header.alg !== 'string') return undefined;
  if (typeof header.kid === 'string') return `${header.alg}\u0000${header.kid}`;
  return header.kid === undefined ? `${header.alg}\u0001` : undefined;
}
