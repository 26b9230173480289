/**
 * One HTTP load measurement with autocannon: warm-up, then a fixed window, with per-response
 * times collected (autocannon's own histogram rounds to whole milliseconds) and CPU steal/load
 * recorded from /proc/stat around the window.
 */
import autocannon from 'autocannon';
import { cpuDelta, cpuSnapshot, summarize } from './stats.js';

export interface LoadOptions {
  url: string;
  connections: number;
  warmupSeconds: number;
  seconds: number;
  /** Authorization header per request: a fixed token, or a function for a different one each time. */
  token?: string | (() => string);
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  cpu: Record<string, { busy: number; steal: number }>;
}

function run(options: LoadOptions, seconds: number, onLatency?: (ms: number) => void): Promise<autocannon.Result> {
  const { token } = options;
  const requests =
    typeof token === 'function'
      ? [{ setupRequest: (req: autocannon.Request) => ({ ...req, headers: { ...req.headers, authorization: `Bearer ${token()}` } }) }]
      : undefined;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: seconds,
        headers: typeof token === 'string' ? { authorization: `Bearer ${token}` } : {},
        ...(requests ? { requests } : {}),
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    if (onLatency) instance.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => onLatency(ms));
  });
}

export async function measure(options: LoadOptions): Promise<LoadResult> {
  if (options.warmupSeconds > 0) await run(options, options.warmupSeconds);
  const latencies: number[] = [];
  const before = cpuSnapshot();
  const result = await run(options, options.seconds, (ms) => latencies.push(ms));
  const cpu = cpuDelta(before, cpuSnapshot());
  const summary = summarize(latencies);
  return {
    rps: result.requests.total / options.seconds,
    p50: summary.p50,
    p99: summary.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    cpu,
  };
}
