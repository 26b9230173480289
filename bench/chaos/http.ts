/**
 * HTTP and time helpers shared by the chaos harness and its load-generator process. `now()` is epoch
 * milliseconds with sub-millisecond resolution, so times taken in both processes compare.
 */
import { Agent, request } from 'node:http';

export const now = () => performance.timeOrigin + performance.now();
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `promise`, or a rejection naming `what` after `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const agent = new Agent({ keepAlive: true, maxSockets: 256 });
/** Generous: on a busy 2-core machine answers can take seconds; a real client waits this long too. */
const REQUEST_TIMEOUT_MS = 10_000;

/** Why a request got no HTTP answer: TIMEOUT, ECONNREFUSED, ECONNRESET, … */
export const errorCode = (error: unknown): string => String((error as { code?: unknown })?.code ?? 'ERROR');

export interface Answer {
  status: number;
  retryAfter: string | undefined;
  /** The start of the body of a 5xx other than 503, to say what broke. */
  body?: string;
}

/** One HTTP request over a shared keep-alive agent; rejects on a connection error or after `timeoutMs`. */
export function send(
  url: string,
  options: { method?: string; token?: string; form?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Answer> {
  const body = options.form ? new URLSearchParams(options.form).toString() : undefined;
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (body !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: options.method ?? 'GET', headers, agent, timeout: options.timeoutMs ?? REQUEST_TIMEOUT_MS },
      (res) => {
        const status = res.statusCode ?? 0;
        let body = '';
        if (status >= 500 && status !== 503) res.on('data', (chunk) => (body = (body + String(chunk)).slice(0, 300)));
        else res.resume();
        res.once('end', () => resolve({ status, retryAfter: res.headers['retry-after'], ...(body ? { body } : {}) }));
        res.once('error', reject);
      },
    );
    req.once('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.once('error', reject);
    req.end(body);
  });
}
