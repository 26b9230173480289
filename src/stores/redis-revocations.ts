/**
 * How the Redis store keeps revocations: sharded, compact, logged, and written in bursts.
 *
 * Sixteen shards, each under a hash tag of its own (`<prefix>{s0}:…` to `<prefix>{s15}:…`), so one
 * Lua script can write a shard's keys together on a Redis Cluster and the shards spread over its
 * masters. A token revocation belongs to the shard picked by its digest (the first 16 bytes of a
 * SHA-256 of its key, see `core/shared/token-digest.ts`), a cutoff to the one picked by the digest
 * of its target. Per shard:
 *
 * - `:tokens`, a hash of 4096 buckets (by digest); a bucket is a string of records, one per token:
 *   16-byte digest, expiry (epoch ms, 48 bits), key length (16 bits), key (UTF-8; empty for a
 *   revocation known only by its digest). The compact snapshot: a cold start reads whole buckets
 *   (HSCAN) and loads digests without parsing keys. A write rewrites its bucket (~15 records at
 *   10^6 revocations), dropping expired records, and each write also cleans one more bucket in
 *   turn, so expired records leave even from buckets nobody writes.
 * - `:cutoffs`, a hash of target → `cutoff|expiresAt` (subject, session, issuer-wide cutoffs).
 * - `:log`, the change log: a stream with one entry per write (a burst of revocations of this
 *   shard), numbered by the shard's sequence (`<seq>-0`, contiguous), holding the revocations
 *   (tokens by digest). Kept at least `retentionMs` (trimmed from the front, by a mark remembering
 *   the newest entry `retentionMs` ago) and at most `maxLogEntries` entries.
 * - `:meta`, a hash: `gen` (the incarnation: a random id made by the first write, so a shard lost
 *   with a Redis restart is told apart from its successor), `seq`, `floor` (entries up to here may
 *   have been trimmed), the trim mark and the sweep positions.
 *
 * Every key of a shard expires once everything in it has (tokens and cutoffs at the latest
 * expiry written, log and meta `retentionMs` later), so an idle store leaves nothing behind.
 *
 * One script writes a burst (up to MAX_BATCH revocations of one shard): the records, one log
 * entry, and one PUBLISH on `<prefix>events` carrying the revocations, the shard, its epoch and
 * the entry's sequence number. The write and its broadcast are atomic: a subscriber never sees a
 * broadcast without the write, and no write goes unannounced (Redis refuses a script over
 * `maxmemory` at its first write, before anything is written).
 */
import {
  parseRevocation,
  revocationFromTarget,
  revocationTarget,
  type ChangePosition,
  type CutoffRevocation,
  type DeliveryMeta,
  type Revocation,
  type RevocationChangeLog,
  type RevocationChanges,
} from './revocation-store.js';
import { digestKey, isDigestKey, TOKEN_DIGEST_BYTES, tokenDigestOf } from '../core/shared/token-digest.js';

/** The commands of an ioredis client (Redis or Cluster) this module uses. */
export interface RedisCommands {
  eval(script: string, numKeys: number, ...args: Array<string | number | Buffer>): Promise<unknown>;
  hmget(key: string, ...fields: string[]): Promise<Array<string | null>>;
  hscanBuffer(key: string, cursor: string, countToken: 'COUNT', count: number): Promise<[Buffer, Buffer[]]>;
}

export const SHARDS = 16;
const BUCKETS = 4096;
/** Most revocations one script writes: ~2 ms of Redis time, so a burst never blocks Redis for long. */
export const MAX_BATCH = 256;
/** Buckets and cutoff fields one read asks for (HSCAN COUNT). */
const SCAN_COUNT = 512;
/** Log entries one read asks for (XRANGE COUNT). */
const LOG_READ_COUNT = 1000;
const RECORD_HEADER = TOKEN_DIGEST_BYTES + 8;
const MAX_KEY_BYTES = 0xffff;

const PUBLISH_SCRIPT = `
local tokens, cutoffs, log, meta = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = tonumber(ARGV[2])
local retention = tonumber(ARGV[3])
local maxLen = tonumber(ARGV[4])
if redis.call('HSETNX', meta, 'gen', ARGV[1]) == 1 then
  redis.call('DEL', log)
end
local latest = 0
-- A record's expiry and last byte; nil past a truncated record (the rest of the bucket is dropped).
local function expiryAt(value, pos, len)
  if pos + 23 > len then return nil end
  local hi, lo, kl = struct.unpack('>I2I4I2', value, pos + 16)
  if pos + 23 + kl > len then return nil end
  return hi * 4294967296 + lo, pos + 23 + kl
end
local function putToken(bucket, digest, expires, key)
  local value = redis.call('HGET', tokens, bucket)
  local out = {}
  if value then
    local pos, len = 1, #value
    while pos <= len do
      local e, stop = expiryAt(value, pos, len)
      if not e then break end
      if string.sub(value, pos, pos + 15) == digest then
        if e > now then
          if e > expires then expires = e end
          if key == '' then key = string.sub(value, pos + 24, stop) end
        end
      elseif e > now then
        out[#out + 1] = string.sub(value, pos, stop)
      end
      pos = stop + 1
    end
  end
  out[#out + 1] = digest .. struct.pack('>I2I4I2', math.floor(expires / 4294967296), expires % 4294967296, #key) .. key
  redis.call('HSET', tokens, bucket, table.concat(out))
  if expires > latest then latest = expires end
end
local function putCutoff(target, cutoff, expires)
  local current = redis.call('HGET', cutoffs, target)
  if current then
    local sep = string.find(current, '|', 1, true)
    if sep then
      local c = tonumber(string.sub(current, 1, sep - 1))
      local e = tonumber(string.sub(current, sep + 1))
      if c and c > cutoff then cutoff = c end
      if e and e > expires then expires = e end
    end
  end
  redis.call('HSET', cutoffs, target, string.format('%.0f|%.0f', cutoff, expires))
  if expires > latest then latest = expires end
end
local count = tonumber(ARGV[9])
local i = 10
local sawCutoff = false
for _ = 1, count do
  if ARGV[i] == 't' then
    putToken(ARGV[i + 2], ARGV[i + 1], tonumber(ARGV[i + 3]), ARGV[i + 4])
    i = i + 5
  else
    putCutoff(ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]))
    sawCutoff = true
    i = i + 4
  end
end
-- Clean one bucket per write in turn (expired records of buckets nobody writes to).
local at = tonumber(redis.call('HGET', meta, 'sweep') or '0')
local bucket = string.format('%03x', at)
local value = redis.call('HGET', tokens, bucket)
if value then
  local out, pos, len = {}, 1, #value
  while pos <= len do
    local e, stop = expiryAt(value, pos, len)
    if not e then break end
    if e > now then out[#out + 1] = string.sub(value, pos, stop) end
    pos = stop + 1
  end
  if #out == 0 then redis.call('HDEL', tokens, bucket) else redis.call('HSET', tokens, bucket, table.concat(out)) end
end
redis.call('HSET', meta, 'sweep', (at + 1) % ${BUCKETS})
if sawCutoff then
  local scan = redis.call('HSCAN', cutoffs, redis.call('HGET', meta, 'csweep') or '0', 'COUNT', 16)
  local fields = scan[2]
  for f = 1, #fields, 2 do
    local e = tonumber(string.match(fields[f + 1], '|(%d+)$') or '0')
    if e <= now then redis.call('HDEL', cutoffs, fields[f]) end
  end
  redis.call('HSET', meta, 'csweep', scan[1])
end
-- The change log, trimmed by time (the mark: the newest entry retention ago) and by length.
local seq = redis.call('HINCRBY', meta, 'seq', 1)
redis.call('XADD', log, string.format('%d-0', seq), 'r', ARGV[8])
local markAt = tonumber(redis.call('HGET', meta, 'markAt') or '0')
if markAt == 0 then
  redis.call('HSET', meta, 'markAt', now, 'markSeq', seq)
elseif now - markAt >= retention then
  local markSeq = tonumber(redis.call('HGET', meta, 'markSeq'))
  redis.call('XTRIM', log, 'MINID', '~', string.format('%d-0', markSeq + 1))
  local floor = tonumber(redis.call('HGET', meta, 'floor') or '0')
  if markSeq > floor then redis.call('HSET', meta, 'floor', markSeq) end
  redis.call('HSET', meta, 'markAt', now, 'markSeq', seq)
end
if redis.call('XLEN', log) > maxLen then
  redis.call('XTRIM', log, 'MAXLEN', '~', maxLen)
  local first = redis.call('XRANGE', log, '-', '+', 'COUNT', 1)[1]
  local gone = tonumber(string.match(first[1], '^(%d+)')) - 1
  local floor = tonumber(redis.call('HGET', meta, 'floor') or '0')
  if gone > floor then redis.call('HSET', meta, 'floor', gone) end
end
-- Nothing outlives what it holds: tokens and cutoffs expire with their latest entry, log and meta after.
if latest > now then
  local ttl = latest - now
  for _, key in ipairs({ tokens, cutoffs }) do
    if redis.call('EXISTS', key) == 1 and redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
  end
  for _, key in ipairs({ log, meta }) do
    if redis.call('PTTL', key) < ttl + retention then redis.call('PEXPIRE', key, ttl + retention) end
  end
end
local gen = redis.call('HGET', meta, 'gen')
redis.call('PUBLISH', ARGV[5], string.format('{"s":%s,"e":"%s","q":%d,', ARGV[6], gen, seq) .. ARGV[7] .. '}')
return seq`;

/** Changes after a cursor, with the epoch checked in the same step (a lost log is never read as ours). */
const READ_LOG_SCRIPT = `
local gen = redis.call('HGET', KEYS[1], 'gen') or ''
if ARGV[1] ~= '' and gen ~= ARGV[1] then return { 'lost' } end
local floor = tonumber(redis.call('HGET', KEYS[1], 'floor') or '0')
if tonumber(ARGV[2]) < floor then return { 'trimmed' } end
return { 'ok', gen, redis.call('XRANGE', KEYS[2], '(' .. ARGV[2] .. '-0', ARGV[3] .. '-0', 'COUNT', ARGV[4]) }`;

export interface RedisRevocationsOptions {
  client: RedisCommands;
  keyPrefix: string;
  channel: string;
  clock: () => number;
  /** Bounds one command (rejects after the store's commandTimeout). */
  timed: <T>(promise: Promise<T>, what: string) => Promise<T>;
  /** How long the change log keeps an entry, at least (ms). */
  retentionMs: number;
  /** Most entries a shard's log keeps. */
  maxLogEntries: number;
}

interface Pending {
  args: Array<string | number | Buffer>;
  log: string;
  message: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** One item of a message on the channel: a revocation, with who published it. */
type Announced = Revocation & { origin?: string };

export interface RedisRevocations {
  publish(revocation: Revocation, origin: string | undefined): Promise<void>;
  snapshot(now: number): Promise<Revocation[]>;
  readonly changeLog: RevocationChangeLog;
  /** The revocations of a channel message, each with its delivery meta; [] for anything malformed. */
  parseMessage(message: string): Array<[Revocation, DeliveryMeta]>;
}

export function redisRevocations(options: RedisRevocationsOptions): RedisRevocations {
  const { client, keyPrefix, channel, clock, timed } = options;
  const keysOf = (shard: number) => {
    const base = `${keyPrefix}{s${shard}}`;
    return [`${base}:tokens`, `${base}:cutoffs`, `${base}:log`, `${base}:meta`] as const;
  };
  const logName = (shard: number) => `s${shard}`;
  const queues: Pending[][] = Array.from({ length: SHARDS }, () => []);
  let scheduled = false;

  const flush = (shard: number) => {
    const batch = queues[shard]!.splice(0, MAX_BATCH);
    if (batch.length === 0) return;
    const now = clock();
    const args: Array<string | number | Buffer> = [
      // The shard's epoch if this write is the first of its incarnation: fresh every time.
      crypto.randomUUID().replaceAll('-', ''),
      now,
      options.retentionMs,
      options.maxLogEntries,
      channel,
      shard,
      `"at":${now},"r":[${batch.map((p) => p.message).join(',')}]`,
      `[${batch.map((p) => p.log).join(',')}]`,
      batch.length,
    ];
    for (const pending of batch) for (const arg of pending.args) args.push(arg);
    timed(client.eval(PUBLISH_SCRIPT, 4, ...keysOf(shard), ...args), 'publish').then(
      () => {
        for (const pending of batch) pending.resolve();
      },
      (error: unknown) => {
        for (const pending of batch) pending.reject(error);
      },
    );
  };

  const flushAll = () => {
    scheduled = false;
    for (let shard = 0; shard < SHARDS; shard++) while (queues[shard]!.length > 0) flush(shard);
  };

  const changeLog: RevocationChangeLog = {
    contiguous: true,
    async read(cursor, now) {
      const heads = await Promise.all(Array.from({ length: SHARDS }, (_, shard) => timed(headOf(shard), 'read')));
      const stale = (shard: number): boolean => {
        const at = cursor?.[logName(shard)];
        const head = heads[shard]!;
        if (at === undefined) return true;
        if (at.epoch !== '' && at.epoch !== head.epoch) return true; // the shard was lost since
        if (at.epoch === '' && at.seq !== 0) return true;
        return at.seq < head.floor || at.seq > head.seq; // trimmed past it, or a log from elsewhere
      };
      if (cursor === undefined || heads.some((_, shard) => stale(shard))) return completeRead(heads, now);
      const changes = await Promise.all(
        Array.from({ length: SHARDS }, (_, shard) => readLog(shard, cursor[logName(shard)]!, heads[shard]!.seq)),
      );
      if (changes.some((c) => c === undefined)) return completeRead(heads, now);
      const next: Record<string, ChangePosition> = {};
      const revocations: Revocation[] = [];
      changes.forEach((change, shard) => {
        next[logName(shard)] = change!.position;
        for (const revocation of change!.revocations) revocations.push(revocation);
      });
      return { complete: false, revocations, cursor: next };
    },
  };

  async function headOf(shard: number): Promise<{ epoch: string; seq: number; floor: number }> {
    const [gen, seq, floor] = await client.hmget(keysOf(shard)[3], 'gen', 'seq', 'floor');
    return { epoch: gen ?? '', seq: Number(seq ?? 0), floor: Number(floor ?? 0) };
  }

  /** The log entries of a shard after `from` up to `to`; undefined if the log no longer has them all. */
  async function readLog(
    shard: number,
    from: ChangePosition,
    to: number,
  ): Promise<{ position: ChangePosition; revocations: Revocation[] } | undefined> {
    const [, , log, meta] = keysOf(shard);
    const revocations: Revocation[] = [];
    let epoch = from.epoch;
    let seq = from.seq;
    while (seq < to) {
      const answer = (await timed(
        client.eval(READ_LOG_SCRIPT, 2, meta, log, epoch, seq, to, LOG_READ_COUNT),
        'read',
      )) as [string, string?, Array<[string, string[]]>?];
      if (answer[0] !== 'ok') return undefined;
      epoch = answer[1]!;
      const entries = answer[2]!;
      if (entries.length === 0) return undefined; // the head said there was more
      for (const [id, fields] of entries) {
        // Contiguous numbers: anything else means entries in between were trimmed.
        if (Number.parseInt(id, 10) !== seq + 1) return undefined;
        seq++;
        for (const revocation of parseLogEntry(fields)) revocations.push(revocation);
      }
    }
    return { position: { log: logName(shard), epoch, seq }, revocations };
  }

  /** Everything in force: every shard's position first, then its buckets and cutoffs. */
  async function completeRead(heads: Array<{ epoch: string; seq: number }>, now: number): Promise<RevocationChanges> {
    const shards = await Promise.all(Array.from({ length: SHARDS }, (_, shard) => readShard(shard)));
    let count = 0;
    for (const shard of shards) for (const bucket of shard.buckets) count += recordCount(bucket);
    const digests = new Uint8Array(count * TOKEN_DIGEST_BYTES);
    const expiresAt = new Uint32Array(count);
    let n = 0;
    const nowSeconds = now / 1000;
    for (const shard of shards) {
      for (const bucket of shard.buckets) {
        for (let pos = 0, end = recordEnd(bucket, 0); end !== -1; pos = end, end = recordEnd(bucket, pos)) {
          const seconds = Math.ceil(expiryOf(bucket, pos) / 1000);
          if (seconds > nowSeconds && n < count) {
            bucket.copy(digests, n * TOKEN_DIGEST_BYTES, pos, pos + TOKEN_DIGEST_BYTES);
            expiresAt[n++] = seconds;
          }
        }
      }
    }
    const cursor: Record<string, ChangePosition> = {};
    heads.forEach((head, shard) => {
      cursor[logName(shard)] = { log: logName(shard), epoch: head.epoch, seq: head.epoch === '' ? 0 : head.seq };
    });
    const cutoffs = shards.flatMap((shard) => shard.cutoffs).filter((cutoff) => cutoff.expiresAt > now);
    return { complete: true, revocations: cutoffs, tokens: { digests, expiresAt, count: n }, cursor };
  }

  async function readShard(shard: number): Promise<{ buckets: Buffer[]; cutoffs: CutoffRevocation[] }> {
    const [tokens, cutoffKey] = keysOf(shard);
    const buckets: Buffer[] = [];
    const cutoffs: CutoffRevocation[] = [];
    await Promise.all([
      scanHash(tokens, (_, value) => buckets.push(value)),
      scanHash(cutoffKey, (field, value) => {
        const cutoff = cutoffFrom(field.toString('utf8'), value.toString('utf8'));
        if (cutoff) cutoffs.push(cutoff);
      }),
    ]);
    return { buckets, cutoffs };
  }

  async function scanHash(key: string, visit: (field: Buffer, value: Buffer) => void): Promise<void> {
    let cursor = '0';
    do {
      const [next, flat] = await timed(client.hscanBuffer(key, cursor, 'COUNT', SCAN_COUNT), 'read');
      cursor = next.toString();
      for (let i = 0; i + 1 < flat.length; i += 2) visit(flat[i]!, flat[i + 1]!);
    } while (cursor !== '0');
  }

  return {
    publish(revocation, origin) {
      return new Promise<void>((resolve, reject) => {
        const { shard, args, log } = encode(revocation);
        const announced: Announced = origin === undefined ? revocation : { ...revocation, origin };
        const queue = queues[shard]!;
        queue.push({ args, log, message: JSON.stringify(announced), resolve, reject });
        if (queue.length >= MAX_BATCH) flush(shard);
        else if (!scheduled) {
          scheduled = true;
          queueMicrotask(flushAll);
        }
      });
    },
    async snapshot(now) {
      const shards = await Promise.all(Array.from({ length: SHARDS }, (_, shard) => readShard(shard)));
      const found = new Map<string, Revocation>();
      for (const shard of shards) {
        for (const bucket of shard.buckets) {
          for (let pos = 0, end = recordEnd(bucket, 0); end !== -1; pos = end, end = recordEnd(bucket, pos)) {
            const until = expiryOf(bucket, pos);
            if (until <= now) continue;
            const key =
              end > pos + RECORD_HEADER ? bucket.toString('utf8', pos + RECORD_HEADER, end) : digestKey(bucket, pos);
            const revocation: Revocation = { type: 'token', key, expiresAt: until };
            found.set(revocationTarget(revocation), revocation);
          }
        }
        for (const cutoff of shard.cutoffs) if (cutoff.expiresAt > now) found.set(revocationTarget(cutoff), cutoff);
      }
      return [...found.values()];
    },
    changeLog,
    parseMessage(message) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(message);
      } catch {
        return [];
      }
      if (typeof parsed !== 'object' || parsed === null) return [];
      const body = parsed as { s?: unknown; e?: unknown; q?: unknown; at?: unknown; r?: unknown };
      // A message of an earlier version: one revocation, with its meta beside it.
      if (!Array.isArray(body.r)) {
        const revocation = parseRevocation(parsed);
        return revocation ? [[revocation, metaOf(parsed, undefined, undefined)]] : [];
      }
      const position =
        typeof body.s === 'number' &&
        Number.isInteger(body.s) &&
        typeof body.e === 'string' &&
        typeof body.q === 'number'
          ? { log: logName(body.s), epoch: body.e, seq: body.q }
          : undefined;
      const out: Array<[Revocation, DeliveryMeta]> = [];
      for (const item of body.r) {
        const revocation = parseRevocation(item);
        if (revocation) out.push([revocation, metaOf(item, body.at, position)]);
      }
      return out;
    },
  };
}

/** The shard, script arguments and log entry of one revocation. */
function encode(revocation: Revocation): { shard: number; args: Array<string | number | Buffer>; log: string } {
  if (revocation.type === 'token') {
    const digest = tokenDigestOf(revocation.key);
    // A key known only by its digest, or too long to record, is kept as the digest alone.
    const key = isDigestKey(revocation.key) || Buffer.byteLength(revocation.key) > MAX_KEY_BYTES ? '' : revocation.key;
    const bucket = (((digest[1]! << 4) | (digest[2]! >> 4)) % BUCKETS).toString(16).padStart(3, '0');
    const expiresAt = Math.ceil(revocation.expiresAt);
    const log = JSON.stringify({ type: 'token', key: digestKey(digest), expiresAt });
    return { shard: digest[0]! % SHARDS, args: ['t', Buffer.from(digest), bucket, expiresAt, key], log };
  }
  const target = revocationTarget(revocation);
  const shard = tokenDigestOf(target)[0]! % SHARDS;
  return {
    shard,
    args: ['c', target, revocation.cutoff, Math.ceil(revocation.expiresAt)],
    log: JSON.stringify(revocation),
  };
}

function parseLogEntry(fields: string[]): Revocation[] {
  const at = fields.indexOf('r');
  if (at === -1) return [];
  let items: unknown;
  try {
    items = JSON.parse(fields[at + 1]!);
  } catch {
    return [];
  }
  if (!Array.isArray(items)) return [];
  const out: Revocation[] = [];
  for (const item of items) {
    const revocation = parseRevocation(item);
    if (revocation) out.push(revocation);
  }
  return out;
}

function metaOf(item: unknown, at: unknown, position: ChangePosition | undefined): DeliveryMeta {
  const { publishedAt, origin } = item as { publishedAt?: unknown; origin?: unknown };
  const when = typeof at === 'number' ? at : publishedAt;
  return {
    ...(typeof when === 'number' ? { publishedAt: when } : {}),
    ...(typeof origin === 'string' ? { origin } : {}),
    ...(position ? { position } : {}),
  };
}

function expiryOf(bucket: Buffer, pos: number): number {
  return bucket.readUInt16BE(pos + 16) * 2 ** 32 + bucket.readUInt32BE(pos + 18);
}

/** Where the record at `pos` ends, or -1 if the bucket is cut short there (the rest is ignored). */
function recordEnd(bucket: Buffer, pos: number): number {
  if (pos + RECORD_HEADER > bucket.length) return -1;
  const end = pos + RECORD_HEADER + bucket.readUInt16BE(pos + 22);
  return end > bucket.length ? -1 : end;
}

function recordCount(bucket: Buffer): number {
  let count = 0;
  for (let pos = 0; pos < bucket.length; count++) {
    pos = recordEnd(bucket, pos);
    if (pos === -1) break;
  }
  return count;
}

function cutoffFrom(target: string, value: string): CutoffRevocation | undefined {
  const [cutoffText, expiresText] = value.split('|');
  const cutoff = Number(cutoffText);
  const expiresAt = Number(expiresText);
  if (!Number.isFinite(cutoff) || !Number.isFinite(expiresAt)) return undefined;
  const revocation = revocationFromTarget(target, cutoff, expiresAt);
  return revocation && revocation.type !== 'token' ? revocation : undefined;
}
