/**
 * Our clock against the IdP's, read from the `Date` header of its answers (RFC 9110 §6.6.1: whole
 * seconds). Token times (`iat`, `nbf`, `exp`) are written by the IdP's clock and checked against
 * ours with `clockTolerance` of leeway: a larger skew refuses fresh tokens (`nbf`, `iat` in the
 * future) or keeps expired ones alive.
 */
import type { DoctorContext } from './doctor-context.js';
import type { Exchange } from './recording-fetch.js';
import { type Check, check } from './report.js';

export interface ClockSkew {
  /** IdP clock minus ours, in ms (positive: the IdP is ahead). */
  skewMs: number;
  /** How far off that estimate may be, in ms: half a second of `Date` rounding plus half the round trip. */
  uncertaintyMs: number;
}

/** The skew seen on the exchange with the shortest round trip that carried a `Date` header. */
export function measureSkew(exchanges: readonly Exchange[]): ClockSkew | undefined {
  let best: ClockSkew | undefined;
  for (const exchange of exchanges) {
    const date = exchange.date === null ? Number.NaN : Date.parse(exchange.date);
    if (Number.isNaN(date)) continue;
    const roundTrip = exchange.receivedAt - exchange.sentAt;
    // The IdP's time lies in [date, date + 1 s); ours at that moment in [sentAt, receivedAt].
    const skewMs = date + 500 - (exchange.sentAt + roundTrip / 2);
    const uncertaintyMs = 500 + roundTrip / 2;
    if (best === undefined || uncertaintyMs < best.uncertaintyMs) best = { skewMs, uncertaintyMs };
  }
  return best;
}

export function checkClock(context: DoctorContext): Check {
  const skew = measureSkew(context.http.exchanges);
  if (skew === undefined) {
    return check('clock', 'info', 'not compared: the IdP sent no Date header', [
      'compare the clocks yourself (NTP) if tokens are refused as not yet valid or expired too early',
    ]);
  }
  const seconds = (ms: number) => (Math.abs(ms) / 1000).toFixed(1);
  const direction = skew.skewMs >= 0 ? 'ahead of' : 'behind';
  const summary = `the IdP's clock is ${seconds(skew.skewMs)} s ${direction} ours (± ${seconds(skew.uncertaintyMs)} s)`;
  const data = { skewMs: Math.round(skew.skewMs), uncertaintyMs: Math.round(skew.uncertaintyMs) };
  // Only what the measurement cannot explain counts.
  const atLeastMs = Math.abs(skew.skewMs) - skew.uncertaintyMs;
  const tolerance = context.clockTolerance;
  if (atLeastMs > tolerance * 1000) {
    const effect =
      skew.skewMs > 0
        ? 'tokens it issues now look issued in the future to us (`nbf`, `iat`): refused until our clock catches up'
        : 'its tokens look older to us: they expire early here, and expired ones are refused sooner';
    return check(
      'clock',
      'fail',
      `${summary}: more than clockTolerance (${tolerance} s)`,
      [effect, 'fix the clocks (NTP) on this host or the IdP; a larger clockTolerance keeps expired tokens alive'],
      data,
    );
  }
  if (atLeastMs > 1000) {
    return check('clock', 'warn', `${summary}: within clockTolerance (${tolerance} s), but check NTP`, [], data);
  }
  return check('clock', 'ok', summary, [], data);
}
