/**
 * The steady load of `npm run chaos`, in its own process (forked with IPC) so that its CPU and event
 * loop do not delay the harness's probes, logouts and IdP. Open loop: `rate` requests per second of
 * valid tokens over the live instances, at most `maxInFlight` outstanding (the rest are counted as
 * not sent). Results go back in batches every 250 ms; times are `now()` (epoch ms), like the harness's.
 *
 * Messages in: start {rate, maxInFlight, tokens, instances}, instances {urls}, swap {remove, add}, stop.
 * Messages out: ready, batch {t, status, ms, errors, skipped}, stopped.
 */
import { errorCode, now, send } from './http.js';

export type LoadMessage =
  | { type: 'start'; rate: number; maxInFlight: number; tokens: string[]; urls: string[] }
  | { type: 'instances'; urls: string[] }
  | { type: 'swap'; remove: string; add: string }
  | { type: 'stop' };

export interface LoadBatch {
  type: 'batch';
  t: number[];
  status: number[];
  ms: number[];
  errors: Array<{ t: number; code: string }>;
  skipped: number[];
  /** Send times of 401s for tokens the harness had already taken out of the pool to log out (a race of this harness, not a false rejection). */
  refusedWhileLoggingOut: number[];
}

let urls: string[] = [];
const tokens: string[] = [];
let batch: LoadBatch = emptyBatch();
let inFlight = 0;
let ticker: NodeJS.Timeout | undefined;
let flusher: NodeJS.Timeout | undefined;

function emptyBatch(): LoadBatch {
  return { type: 'batch', t: [], status: [], ms: [], errors: [], skipped: [], refusedWhileLoggingOut: [] };
}

function flush(): void {
  if (batch.t.length + batch.skipped.length > 0) process.send!(batch);
  batch = emptyBatch();
}

function fire(): void {
  const url = urls[Math.floor(Math.random() * urls.length)];
  const token = tokens[Math.floor(Math.random() * tokens.length)];
  if (!url || !token) return;
  const t = now();
  inFlight++;
  const record = (status: number) => {
    inFlight--;
    batch.t.push(t);
    batch.status.push(status);
    batch.ms.push(now() - t);
  };
  send(`${url}/notes`, { token }).then(
    (answer) => {
      record(answer.status);
      if (answer.status === 401 && !tokens.includes(token)) batch.refusedWhileLoggingOut.push(t);
    },
    (error: unknown) => {
      record(0);
      batch.errors.push({ t, code: errorCode(error) });
    },
  );
}

process.on('message', (message: LoadMessage) => {
  if (message.type === 'start') {
    urls = message.urls;
    tokens.push(...message.tokens);
    const started = now();
    let sent = 0;
    ticker = setInterval(() => {
      const due = Math.floor(((now() - started) * message.rate) / 1000);
      for (; sent < due; sent++) {
        if (inFlight >= message.maxInFlight) batch.skipped.push(now());
        else fire();
      }
    }, 5);
    flusher = setInterval(flush, 250);
  } else if (message.type === 'instances') {
    urls = message.urls;
  } else if (message.type === 'swap') {
    const i = tokens.indexOf(message.remove);
    if (i >= 0) tokens.splice(i, 1);
    tokens.push(message.add);
  } else if (message.type === 'stop') {
    clearInterval(ticker);
    const waitStarted = now();
    // Let outstanding requests finish (they time out after 10 s at worst), then report the rest.
    const finish = setInterval(() => {
      if (inFlight > 0 && now() - waitStarted < 11_000) return;
      clearInterval(finish);
      clearInterval(flusher);
      flush();
      process.send!({ type: 'stopped' }, () => process.exit(0));
    }, 50);
  }
});
process.on('disconnect', () => process.exit(0));
process.send!({ type: 'ready' });
