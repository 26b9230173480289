/**
 * One HTTP load measurement with autocannon: warm-up, then a fixed window, with per-response
 * times collected (autocannon's own histogram rounds to whole milliseconds) and CPU steal/load
 * recorded from /proc/stat around the window. Given the server's pid, it also estimates how much
 * CPU *other* processes took during the window (all busy time minus ours and the server's): the
 * other half of "was this measurement disturbed?".
 */
import autocannon from 'autocannon';
import { busySeconds, cpuDelta, cpuSnapshot, processCpuSeconds, summarize } from './stats.js';

export interface LoadOptions {
  url: string;
  connections: number;
  warmupSeconds: number;
  seconds: number;
  /** Authorization header per request: a fixed token, or a function for a different one each time. */
  token?: string | (() => string);
  /** Headers built per request (e.g. a fresh DPoP proof), on top of `token`'s Authorization. */
  headers?: () => Record<string, string>;
  /** The server's pid, to tell its CPU time apart from other processes'. */
  pid?: number;
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  cpu: Record<string, { busy: number; steal: number }>;
  /** Highest steal fraction of any CPU during the window. */
  steal: number;
  /** Cores' worth of CPU used by processes other than this one and the server (needs `pid`); approximate. */
  otherCores: number | undefined;
  /** The server's CPU time per answered request, µs (needs `pid`). */
  serverCpuUsPerRequest: number | undefined;
}

function run(options: LoadOptions, seconds: number, onLatency?: (ms: number) => void): Promise<autocannon.Result> {
  const { token, headers } = options;
  const requests =
    typeof token === 'function' || headers !== undefined
      ? [
          {
            setupRequest: (req: autocannon.Request) => ({
              ...req,
              headers: {
                ...req.headers,
                ...(typeof token === 'function' ? { authorization: `Bearer ${token()}` } : {}),
                ...headers?.(),
              },
            }),
          },
        ]
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
    if (onLatency)
      instance.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => onLatency(ms));
  });
}

export async function measure(options: LoadOptions): Promise<LoadResult> {
  if (options.warmupSeconds > 0) await run(options, options.warmupSeconds);
  const latencies: number[] = [];
  const serverBefore = options.pid === undefined ? NaN : processCpuSeconds(options.pid);
  const selfBefore = process.cpuUsage();
  const before = cpuSnapshot();
  const started = performance.now();
  const result = await run(options, options.seconds, (ms) => latencies.push(ms));
  const elapsed = (performance.now() - started) / 1000;
  const after = cpuSnapshot();
  const self = process.cpuUsage(selfBefore);
  const server = options.pid === undefined ? NaN : processCpuSeconds(options.pid) - serverBefore;
  const cpu = cpuDelta(before, after);
  const others = busySeconds(after) - busySeconds(before) - server - (self.user + self.system) / 1e6;
  const summary = summarize(latencies);
  return {
    rps: result.requests.total / options.seconds,
    p50: summary.p50,
    p99: summary.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    cpu,
    steal: Math.max(0, ...Object.values(cpu).map((c) => c.steal)),
    otherCores: Number.isFinite(others) ? Math.max(0, others / elapsed) : undefined,
    serverCpuUsPerRequest: Number.isFinite(server) ? (server * 1e6) / Math.max(1, result.requests.total) : undefined,
  };
}
