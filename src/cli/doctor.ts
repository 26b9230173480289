/**
 * `revocable-jwt doctor`: checks a configuration against the live IdP, the way the library will
 * use it, and says what fails and what to change. Every protocol step is the library's own code
 * (discovery, URL policy, HTTP client, JWKS key handling, the verifier for a token's verdict);
 * this file only runs the checks in order and collects what they find.
 */
import type { FetchLike } from '../core/idp/http-client.js';
import { createVerifier } from '../core/verify/create-verifier.js';
import type { Verifier } from '../core/verify/types.js';
import { checkClock } from './clock-check.js';
import { checkDiscovery } from './discovery-check.js';
import type { DoctorContext } from './doctor-context.js';
import { checkEndpoints } from './endpoint-checks.js';
import { checkJwks } from './jwks-check.js';
import { recordingFetch } from './recording-fetch.js';
import { type Check, check, type DoctorReport, plainMessage } from './report.js';
import { checkToken } from './token-check.js';

export interface DoctorOptions {
  issuer: string;
  audience: string[];
  /** The claim `audience` is matched against (the verifier's `audienceClaim`). Default `aud`. */
  audienceClaim?: 'aud' | 'client_id' | undefined;
  /** A token to explain; never printed. */
  token?: string | undefined;
  /** Seconds per request to the IdP. Default 5 (the library's). */
  timeout?: number | undefined;
  /** Seconds of leeway on token times. Default 5 (the library's). */
  clockTolerance?: number | undefined;
  typ?: string | undefined;
  allowHttp?: boolean | undefined;
  /** Default: the global fetch. */
  fetch?: FetchLike | undefined;
  /** Epoch ms. Default `Date.now`. */
  clock?: (() => number) | undefined;
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const clock = options.clock ?? Date.now;
  const http = recordingFetch(options.fetch ?? globalThis.fetch.bind(globalThis), clock);
  const lifetime = new AbortController();
  const context: DoctorContext = {
    issuer: options.issuer,
    audience: options.audience,
    audienceClaim: options.audienceClaim ?? 'aud',
    allowHttp: options.allowHttp === true,
    timeoutMs: (options.timeout ?? 5) * 1000,
    clockTolerance: options.clockTolerance ?? 5,
    typ: options.typ,
    http,
    clock,
    signal: lifetime.signal,
  };
  const checks: Check[] = [];
  const report = (): DoctorReport => ({
    issuer: options.issuer,
    audience: options.audience,
    ok: !checks.some((c) => c.status === 'fail'),
    checks,
  });

  // The verifier the user would build: its construction checks the options (no I/O).
  let verifier: Verifier;
  try {
    verifier = createVerifier({
      issuer: options.issuer,
      audience: options.audience,
      fetch: http.fetch,
      clock,
      cache: false,
      logger: false, // the doctor reports what it finds itself
      ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
      ...(options.clockTolerance === undefined ? {} : { clockTolerance: options.clockTolerance }),
      ...(options.typ === undefined ? {} : { typ: options.typ }),
      ...(options.audienceClaim === undefined ? {} : { audienceClaim: options.audienceClaim }),
      ...(options.allowHttp ? { allowHttp: true } : {}),
    });
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    checks.push(check('configuration', 'fail', plainMessage(error)));
    return report();
  }
  checks.push(check('configuration', 'ok', 'createVerifier() accepts these options'));
  try {
    const discovery = await checkDiscovery(context);
    checks.push(discovery.check);
    const jwks = await checkJwks(context, discovery.metadata);
    checks.push(jwks.check);
    checks.push(checkClock(context));
    checks.push(...checkEndpoints(context, discovery.metadata));
    if (options.token !== undefined) checks.push(...(await checkToken(context, options.token, jwks.keys, verifier)));
  } finally {
    lifetime.abort();
    await verifier.close();
  }
  return report();
}
