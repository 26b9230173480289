/**
 * JWKS under attack: an attacker sends tokens naming random `kid`s nobody publishes, hoping each
 * one makes the API refetch the IdP's JWKS (turning the API into a load generator against its IdP)
 * or stalls valid requests behind those fetches.
 *
 * Over HTTP, on one express-guard server (core 0) whose JWKS fetches the stub counts:
 *  1. valid requests alone (cache hit), a fixed window: the reference;
 *  2. the same valid load, and meanwhile ATTACK_REQUESTS unknown-kid requests from a second
 *     autocannon (a fresh kid each): valid throughput and latency counted over the attack's span
 *     only, the attack's statuses, and the JWKS fetches during it.
 * The server runs with a 1 s cooldown (default 30 s) so the attack spans several cooldown windows
 * and the bound "≤ 1 fetch per window" is tested, not trivially met by one window.
 * Valid throughput drops under attack simply because the server's one core also answers the
 * attack; what must not happen is a valid request failing or the fetch count growing with the attack.
 */
import autocannon from 'autocannon';
import { measure } from './load.js';
import { statusOf } from './http.js';
import type { JwksStub } from './jwks-server.js';
import { spawnServer } from './processes.js';
import { summarize } from './stats.js';

export interface AttackOptions {
  env: Record<string, string>;
  stub: JwksStub;
  validToken: string;
  /** One unknown-kid token per attack request. */
  attackTokens: string[];
  cooldownSeconds: number;
  connections: number;
  warmupSeconds: number;
  seconds: number;
}

interface Response {
  at: number;
  status: number;
  ms: number;
}

function load(
  url: string,
  connections: number,
  token: string | (() => string),
  amount: number | undefined,
  onResponse: (r: Response) => void,
) {
  const perRequest = typeof token === 'function';
  const instance = autocannon(
    {
      url,
      connections,
      ...(amount === undefined ? { duration: 600 } : { amount }),
      headers: perRequest ? {} : { authorization: `Bearer ${token}` },
      ...(perRequest
        ? {
            requests: [
              {
                setupRequest: (req: autocannon.Request) => ({
                  ...req,
                  headers: { ...req.headers, authorization: `Bearer ${token()}` },
                }),
              },
            ],
          }
        : {}),
    },
    () => undefined,
  );
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) =>
    onResponse({ at: performance.now(), status, ms }),
  );
  const done = new Promise<void>((resolve) => instance.once('done', () => resolve()));
  return { stop: () => instance.stop(), done };
}

export async function jwksAttack(options: AttackOptions) {
  const server = await spawnServer(
    'bench/server.ts',
    { ...options.env, CASE: 'express-guard', JWKS_COOLDOWN: String(options.cooldownSeconds) },
    0,
  );
  try {
    const url = `${server.url}/`;
    if ((await statusOf(url, options.validToken)) !== 200) throw new Error('attack server refused the valid token');
    if ((await statusOf(url, options.attackTokens[0])) !== 401)
      throw new Error('attack server did not answer 401 to an unknown kid');

    const alone = await measure({
      url,
      connections: options.connections,
      warmupSeconds: options.warmupSeconds,
      seconds: options.seconds,
      token: options.validToken,
      pid: server.child.pid!,
    });

    const valid: Response[] = [];
    const attack: Response[] = [];
    const validLoad = load(url, options.connections, options.validToken, undefined, (r) => valid.push(r));
    await new Promise((resolve) => setTimeout(resolve, 300)); // valid load connected and flowing first
    const fetchesBefore = options.stub.jwksRequests;
    let next = 0;
    const start = performance.now();
    const attackLoad = load(
      url,
      options.connections,
      () => options.attackTokens[next++ % options.attackTokens.length]!,
      options.attackTokens.length,
      (r) => attack.push(r),
    );
    await attackLoad.done;
    const end = performance.now();
    const fetches = options.stub.jwksRequests - fetchesBefore;
    validLoad.stop();
    await validLoad.done;

    const during = valid.filter((r) => r.at >= start && r.at <= end);
    const seconds = (end - start) / 1000;
    const latency = summarize(during.filter((r) => r.status === 200).map((r) => r.ms));
    const attackStatuses: Record<string, number> = {};
    for (const r of attack) attackStatuses[r.status] = (attackStatuses[r.status] ?? 0) + 1;
    const windows = Math.floor(seconds / options.cooldownSeconds) + 1;
    return {
      cooldownSeconds: options.cooldownSeconds,
      attackRequests: attack.length,
      attackSeconds: seconds,
      attackRps: attack.length / seconds,
      attackStatuses,
      jwksFetches: fetches,
      /** Cooldown windows the attack touched: the most fetches allowed. */
      maxAllowedFetches: windows,
      validAlone: { rps: alone.rps, p50: alone.p50, p99: alone.p99, steal: alone.steal },
      validDuringAttack: {
        rps: during.length / seconds,
        p50: latency.p50,
        p99: latency.p99,
        failed: during.filter((r) => r.status !== 200).length,
      },
    };
  } finally {
    await server.stop();
  }
}
