/**
 * Stateless DPoP server nonces (RFC 9449 §9): the nonce of a period is an HMAC-SHA-256 of the
 * period's number under the configured secret, so every instance sharing the secret issues the
 * same nonce and accepts every other's, with nothing stored. A nonce is accepted during its own
 * period and the next one (one to two periods in all); past its first period, an admitted request
 * is answered with the new nonce (`DPoP-Nonce`), so a busy client never sees `use_dpop_nonce`.
 * WebCrypto only: it runs on workers as on Node.
 */
import { base64url, type CryptoKey } from 'jose';

/** What a proof's nonce is worth. */
export interface NonceCheck {
  /** The period the nonce belongs to, if it is the current or the previous one's; else undefined. */
  readonly period: number | undefined;
  /** The current period. */
  readonly current: number;
}

/** Issues and checks the nonces of one secret. */
export interface NonceSource {
  /** The period length (ms). */
  readonly periodMs: number;
  /** The nonce to hand out at `now` (epoch ms). */
  issue(now: number): Promise<string>;
  /** Which accepted period `nonce` belongs to at `now`. */
  check(nonce: string, now: number): Promise<NonceCheck>;
}

/** Nonces under `secret` that change every `periodMs`. */
export function createNonceSource(secret: Uint8Array, periodMs: number): NonceSource {
  let key: Promise<CryptoKey> | undefined;
  // The last few periods' nonces: every request of a period asks for the same one or two.
  const computed = new Map<number, Promise<string>>();

  const nonceOf = (period: number): Promise<string> => {
    let nonce = computed.get(period);
    if (nonce === undefined) {
      key ??= crypto.subtle.importKey(
        'raw',
        secret as Uint8Array<ArrayBuffer>,
        { name: 'HMAC', hash: 'SHA-256' },
        false,
        ['sign'],
      );
      nonce = key
        .then((k) => crypto.subtle.sign('HMAC', k, new TextEncoder().encode(`revocable-jwt DPoP nonce ${period}`)))
        .then((mac) => base64url.encode(new Uint8Array(mac)));
      computed.set(period, nonce);
      if (computed.size > 4) computed.delete(computed.keys().next().value!);
    }
    return nonce;
  };

  return {
    periodMs,
    issue: (now) => nonceOf(Math.floor(now / periodMs)),
    async check(nonce, now) {
      const current = Math.floor(now / periodMs);
      if (nonce === (await nonceOf(current))) return { period: current, current };
      if (nonce === (await nonceOf(current - 1))) return { period: current - 1, current };
      return { period: undefined, current };
    },
  };
}
