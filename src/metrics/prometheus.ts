/**
 * Optional Prometheus metrics for a verifier (prom-client is an optional peer dependency, loaded
 * only here). Counters come from the verifier's events; cache, JWKS, denylist and outbox figures
 * are read from `verifier.stats()` at scrape time, so nothing is counted twice.
 *
 *   revocable_jwt_requests_total{result, reason, cached}    accepted / rejected, by reason
 *   revocable_jwt_cache_hits_total, _cache_misses_total, _cache_entries, _cache_hit_ratio
 *   revocable_jwt_jwks_fetches_total, _jwks_fetch_failures_total
 *   revocable_jwt_revocations_total{type, source}           local, or arrived from another instance
 *   revocable_jwt_revocation_propagation_seconds            publish → applied here (from the store)
 *   revocable_jwt_denylist_entries, _outbox_pending, _store_up
 *   revocable_jwt_misconfigured                             1 while stats().misconfigured says what to fix
 */
import { createRequire } from 'node:module';
import type { VerifierEventMap } from '../core/shared/events.js';
import { optionKeys, rejectUnknownKeys } from '../core/shared/option-keys.js';
import type { Verifier } from '../core/verify/types.js';

/**
 * Options of {@link createPrometheusMetrics}. Any other key is refused with a `TypeError`.
 *
 * @example
 * ```ts
 * import { Registry } from 'prom-client';
 * import { createPrometheusMetrics, type PrometheusMetricsOptions } from 'revocable-jwt';
 * const options: PrometheusMetricsOptions = { verifier, registry: new Registry(), prefix: 'notes_api_auth_' };
 * const metrics = createPrometheusMetrics(options);
 * ```
 */
export interface PrometheusMetricsOptions {
  /** The verifier whose events and `stats()` the metrics report. */
  verifier: Verifier;
  /** A prom-client Registry; default: a new one (not the global default registry). */
  registry?: unknown;
  /** Metric name prefix. Default `'revocable_jwt_'`. */
  prefix?: string;
}

/** The keys createPrometheusMetrics accepts (any other is refused): one line per option. */
const PROMETHEUS_OPTION_KEYS = optionKeys<PrometheusMetricsOptions>({ verifier: true, registry: true, prefix: true });

/**
 * What {@link createPrometheusMetrics} returns: the registry holding the metrics, and what a
 * `/metrics` handler needs to serve them.
 *
 * @example
 * ```ts
 * import { createPrometheusMetrics, type PrometheusMetrics } from 'revocable-jwt';
 * const metrics: PrometheusMetrics = createPrometheusMetrics({ verifier });
 * app.get('/metrics', async (req, res) => {
 *   res.set('Content-Type', metrics.contentType).send(await metrics.metrics());
 * });
 * ```
 */
export interface PrometheusMetrics {
  /** The prom-client Registry holding the metrics. */
  readonly registry: { metrics(): Promise<string>; contentType: string };
  /** The exposition text, for a `/metrics` handler. */
  metrics(): Promise<string>;
  /** The registry's `Content-Type` for that text (Prometheus text format). */
  readonly contentType: string;
  /** Stops listening to the verifier and removes the metrics from the registry. */
  close(): void;
}

type PromClient = typeof import('prom-client');

function loadPromClient(): PromClient {
  try {
    return createRequire(import.meta.url)('prom-client') as PromClient;
  } catch (cause) {
    throw new Error(
      'revocable-jwt: createPrometheusMetrics needs the optional peer dependency prom-client: npm install prom-client',
      { cause },
    );
  }
}

/**
 * Prometheus metrics for a verifier, through prom-client (an optional peer dependency, loaded
 * only here). Counters follow the verifier's events; cache, JWKS, denylist, outbox, store and
 * misconfiguration figures are read from `verifier.stats()` at scrape time, so nothing is counted
 * twice (the names are listed at the top of this module). Metrics go into a new registry unless
 * you pass `registry` (the global default registry is never touched implicitly).
 *
 * Does not validate: that `registry` is a prom-client `Registry` (it is used as one), or that its
 * metric names are free — a second call with the same registry and prefix throws prom-client's
 * "already registered" error; `close()` the first one or use another `prefix`.
 *
 * @param options - `verifier`, and optionally `registry` and `prefix` (default `'revocable_jwt_'`).
 * @returns The registry and a `metrics()` / `contentType` pair for a `/metrics` handler.
 * @throws TypeError without a verifier or with an unknown option; Error when prom-client is not installed.
 *
 * @example
 * ```ts
 * import { register } from 'prom-client';
 * import { createPrometheusMetrics } from 'revocable-jwt';
 * // Alongside your own metrics in prom-client's default registry:
 * const metrics = createPrometheusMetrics({ verifier, registry: register });
 * app.get('/metrics', async (req, res) => {
 *   res.set('Content-Type', register.contentType).send(await register.metrics());
 * });
 * // on shutdown: metrics.close();
 * ```
 */
export function createPrometheusMetrics(options: PrometheusMetricsOptions): PrometheusMetrics {
  if (typeof options !== 'object' || options === null || typeof options.verifier?.stats !== 'function') {
    throw new TypeError('revocable-jwt: createPrometheusMetrics needs { verifier }');
  }
  rejectUnknownKeys(options, PROMETHEUS_OPTION_KEYS, 'createPrometheusMetrics');
  const prom = loadPromClient();
  const { verifier } = options;
  const prefix = options.prefix ?? 'revocable_jwt_';
  const registry = (options.registry as InstanceType<PromClient['Registry']> | undefined) ?? new prom.Registry();
  const registers = [registry];
  const stats = () => verifier.stats();
  /** Every metric's full name, so close() can take them out of the registry again. */
  const names: string[] = [];
  const named = (name: string) => {
    names.push(prefix + name);
    return prefix + name;
  };

  // Cumulative figures the verifier already counts: report them as counters at scrape time.
  const fromStats = (name: string, help: string, read: () => number) =>
    new prom.Counter({
      name: named(name),
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  const gauge = (name: string, help: string, read: () => number) =>
    new prom.Gauge({
      name: named(name),
      help,
      registers,
      collect() {
        this.set(read());
      },
    });

  const requests = new prom.Counter({
    name: named('requests_total'),
    help: 'Verifications by result, rejection reason and whether the cache answered',
    labelNames: ['result', 'reason', 'cached'],
    registers,
  });
  const revocations = new prom.Counter({
    name: named('revocations_total'),
    help: 'Revocations that took effect on this instance, by type and source (local or store)',
    labelNames: ['type', 'source'],
    registers,
  });
  const propagation = new prom.Histogram({
    name: named('revocation_propagation_seconds'),
    help: 'Time from a revocation being published by another instance to it taking effect here',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers,
  });
  // Read at scrape time: nothing to keep but their names.
  fromStats('cache_hits_total', 'Verified-token cache hits', () => stats().cache.hits);
  fromStats('cache_misses_total', 'Verified-token cache misses (signature checks)', () => stats().cache.misses);
  gauge('cache_entries', 'Entries in the verified-token cache', () => stats().cache.size);
  gauge('cache_hit_ratio', 'Cache hits / (hits + misses) since start', () => {
    const { hits, misses } = stats().cache;
    return hits + misses === 0 ? 0 : hits / (hits + misses);
  });
  fromStats('jwks_fetches_total', 'JWKS fetches', () => stats().jwks.fetches);
  fromStats('jwks_fetch_failures_total', 'Failed JWKS fetches', () => stats().jwks.failures);
  gauge('denylist_entries', "Denylisted tokens in this instance's mirror", () => stats().revocation.denylisted);
  gauge('outbox_pending', 'IdP revocations waiting for retry', () => stats().revocation.outbox.pending);
  gauge('misconfigured', '1 while the configuration fails against the IdP (see the misconfigured event)', () =>
    stats().misconfigured === undefined ? 0 : 1,
  );
  gauge('store_up', '1 when the revocation store is reachable and synced', () =>
    stats().revocation.store.unavailableSince === undefined ? 1 : 0,
  );

  const onVerified = (e: VerifierEventMap['verified']) =>
    requests.inc({ result: 'accepted', reason: '', cached: String(e.cached) });
  const onRejected = (e: VerifierEventMap['rejected']) =>
    requests.inc({ result: 'rejected', reason: e.reason, cached: '' });
  const onRevoked = (e: VerifierEventMap['revoked']) => {
    revocations.inc({ type: e.type, source: e.source });
    if (e.lagMs !== undefined) propagation.observe(e.lagMs / 1000);
  };
  verifier.on('verified', onVerified);
  verifier.on('rejected', onRejected);
  verifier.on('revoked', onRevoked);

  return {
    registry,
    contentType: registry.contentType,
    metrics: () => registry.metrics(),
    close() {
      verifier.off('verified', onVerified);
      verifier.off('rejected', onRejected);
      verifier.off('revoked', onRevoked);
      for (const name of names) registry.removeSingleMetric(name);
    },
  };
}
