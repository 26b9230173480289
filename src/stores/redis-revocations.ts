/**
 * How the Redis store keeps revocations: sharded, compact, logged, and written in bursts.
 *
 * Sixteen shards, each under a hash tag of its own (`<prefix>{s0}:…` to `<prefix>{s15}:…`), so one
 * Lua script can write a shard's keys together on a Redis Cluster and the shards spread over its
 * masters. A token revocation belongs to the shard picked by its digest (the first 16 bytes of a
 * SHA-256 of its key, see `core/shared/token-digest.ts`), a cutoff to the one picked by the digest
 * of its target. Per shard:
 *
 * - `:tokens`, a hash of 16384 buckets (by digest); a bucket is a string of records, one per
 *   token: 16-byte digest, expiry (epoch ms, 48 bits), key length (16 bits), key (UTF-8; empty for
 *   a revocation known only by its digest). The compact snapshot: a cold start reads every
 *   shard's buckets in one HVALS each, the 16 in parallel, and loads the digests without decoding
 *   a key. A new token is appended to its bucket (~4 records at 10^6 revocations), the same token
 *   again merged into its record (later expiry wins); each write also rewrites a few buckets in
 *   turn without their expired records.
 * - `:cutoffs`, a hash of target → `cutoff|expiresAt` (subject, session, issuer-wide cutoffs).
 * - `:log`, the change log: a stream with one entry per write (a burst of revocations of this
 *   shard), numbered by the shard's sequence (`<seq>-0`, contiguous), holding the burst's tokens
 *   (digest and expiry, 22 bytes each, binary) and cutoffs (JSON). Kept at least `retentionMs`
 *   (trimmed from the front, by a mark remembering the newest entry `retentionMs` ago) and at most
 *   `maxLogEntries` entries. We chose a stream over a sorted set by sequence: entries are
 *   delta-encoded listpacks (a few bytes of overhead each, not a skiplist node), XRANGE from a
 *   sequence number is direct, and trimming from the front is one XTRIM.
 * - `:meta`, a hash: `gen` (the incarnation: a random id made by the first write, so a shard lost
 *   with a Redis restart is told apart from its successor), `seq`, `floor` (entries up to here may
 *   have been trimmed), the trim mark and the sweep positions.
 *
 * Every key of a shard expires once everything in it has (tokens and cutoffs at the latest
 * expiry written, log and meta `retentionMs` later), so an idle store leaves nothing behind.
 *
 * One script writes a burst (up to MAX_BATCH revocations of one shard, the publishes of one tick):
 * the records (one HMGET and one HSET for all its buckets), one log entry, and one PUBLISH on
 * `<prefix>events` carrying the revocations (with their keys), the shard, its epoch and the
 * entry's sequence number. The write and its broadcast are atomic: a subscriber never sees a
 * broadcast without the write, and no write goes unannounced (Redis refuses a script over
 * `maxmemory` at its first write, before anything is written).
 */
import {
  mergeRevocation,
  parseRevocation,
  revocationFromTarget,
  revocationTarget,
  type ChangePosition,
  type CompactTokens,
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
  callBuffer(command: string, ...args: Array<string | number | Buffer>): Promise<unknown>;
  hmget(key: string, ...fields: string[]): Promise<Array<string | null>>;
}

export const SHARDS = 16;
/** Buckets per shard: ~4 records each at 10^6 revocations, so rewriting one on a write stays cheap. */
const BUCKETS = 16384;
/** Buckets each write cleans of expired records, in turn. */
const SWEEP_BUCKETS = 4;
/** Most revocations one script writes: ~2 ms of Redis time, so a burst never blocks Redis for long. */
export const MAX_BATCH = 256;
/** Log entries one read asks for (XRANGE COUNT). */
const LOG_READ_COUNT = 1000;
const RECORD_HEADER = TOKEN_DIGEST_BYTES + 8;
const MAX_KEY_BYTES = 0xffff;

const PUBLISH_SCRIPT = `
local tokens, cutoffs, log, meta = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = tonumber(ARGV[2])
local retention = tonumber(ARGV[3])
local maxLen = tonumber(ARGV[4])
local latest = tonumber(ARGV[10])
if redis.call('HSETNX', meta, 'gen', ARGV[1]) == 1 then
  redis.call('DEL', log)
end
-- A record's expiry and last byte; nil past a truncated record (the rest of the bucket is dropped).
local function expiryAt(value, pos, len)
  if pos + 23 > len then return nil end
  local hi, lo, kl = struct.unpack('>I2I4I2', value, pos + 16)
  if pos + 23 + kl > len then return nil end
  return hi * 4294967296 + lo, pos + 23 + kl
end
-- A bucket without its expired records, and with \`record\` (if any) merged into the one of its digest.
local function rebuild(value, record)
  local out, pos, len = {}, 1, #value
  local digest, expires, key
  if record then
    digest, expires, key = string.sub(record, 1, 16), expiryAt(record, 1, #record), string.sub(record, 25)
  end
  while pos <= len do
    local e, stop = expiryAt(value, pos, len)
    if not e then break end
    if e > now then
      if digest and string.sub(value, pos, pos + 15) == digest then
        if e > expires then expires = e end
        if key == '' then key = string.sub(value, pos + 24, stop) end
      else
        out[#out + 1] = string.sub(value, pos, stop)
      end
    end
    pos = stop + 1
  end
  if digest then
    local hi = math.floor(expires / 4294967296)
    out[#out + 1] = digest .. struct.pack('>I2I4I2', hi, expires - hi * 4294967296, #key) .. key
  end
  return table.concat(out)
end
-- A new digest is appended as is (one string search); the same token again is merged.
local function withRecord(value, record)
  if not value then return record end
  if string.find(value, string.sub(record, 1, 16), 1, true) then return rebuild(value, record) end
  return value .. record
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
end
-- Every bucket the burst touches: read in one call, updated in order, written back in one call.
local count = tonumber(ARGV[11])
if count > 0 then
  local fields = {}
  for k = 1, count do fields[k] = ARGV[10 + 2 * k] end
  local values = redis.call('HMGET', tokens, unpack(fields))
  local updated, order = {}, {}
  for k = 1, count do
    local field = fields[k]
    local value = updated[field]
    if value == nil then
      value = values[k]
      order[#order + 1] = field
    end
    updated[field] = withRecord(value, ARGV[11 + 2 * k])
  end
  local flat = {}
  for _, field in ipairs(order) do
    flat[#flat + 1] = field
    flat[#flat + 1] = updated[field]
  end
  redis.call('HSET', tokens, unpack(flat))
end
local i = 12 + 2 * count
local sawCutoff = i <= #ARGV
while i <= #ARGV do
  putCutoff(ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]))
  i = i + 3
end
-- Clean ${SWEEP_BUCKETS} buckets per write in turn (the expired records of buckets nobody writes to).
local at = tonumber(redis.call('HGET', meta, 'sweep') or '0')
for _ = 1, ${SWEEP_BUCKETS} do
  local bucket = string.format('%04x', at)
  local value = redis.call('HGET', tokens, bucket)
  if value then
    local kept = rebuild(value, nil)
    if kept == '' then
      redis.call('HDEL', tokens, bucket)
    elseif #kept < #value then
      redis.call('HSET', tokens, bucket, kept)
    end
  end
  at = (at + 1) % ${BUCKETS}
end
redis.call('HSET', meta, 'sweep', at)
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
if ARGV[9] == '' then
  redis.call('XADD', log, string.format('%d-0', seq), 't', ARGV[8])
else
  redis.call('XADD', log, string.format('%d-0', seq), 't', ARGV[8], 'c', ARGV[9])
end
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

/** A burst of publishes to one shard, written by one script call; every publish of it shares one promise. */
interface Batch {
  /** Per token: its bucket field and record. */
  tokens: Array<string | Buffer>;
  /** Per cutoff: its target, cutoff and expiry. */
  cutoffs: Array<string | number>;
  /** The log's view of the cutoffs (JSON). */
  logCutoffs: string[];
  /** Each revocation as broadcast (JSON). */
  messages: string[];
  /** The latest expiry in the burst (ms). */
  latest: number;
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface RedisRevocations {
  publish(revocation: Revocation, origin: string | undefined): Promise<void>;
  snapshot(now: number): Promise<Revocation[]>;
  readonly changeLog: RevocationChangeLog;
  /** The revocations of a channel message, each with its delivery meta; [] for anything malformed. */
  parseMessage(message: string): Array<[Revocation, DeliveryMeta]>;
}

/** The bucket field names, made once: a publish picks one without building a string. */
const FIELDS = Array.from({ length: BUCKETS }, (_, i) => i.toString(16).padStart(4, '0'));

/** Bytes a token takes in a log entry: its digest and expiry (the key stays out of the log). */
const LOG_RECORD = TOKEN_DIGEST_BYTES + 6;

export function redisRevocations(options: RedisRevocationsOptions): RedisRevocations {
  const { client, keyPrefix, channel, clock, timed } = options;
  const keysOf = (shard: number) => {
    const base = `${keyPrefix}{s${shard}}`;
    return [`${base}:tokens`, `${base}:cutoffs`, `${base}:log`, `${base}:meta`] as const;
  };
  const logName = (shard: number) => `s${shard}`;
  const batches: Array<Batch | undefined> = new Array(SHARDS).fill(undefined);
  let scheduled = false;
  let lastOrigin: string | undefined;
  let originJson = '';

  const openBatch = (): Batch => {
    const batch = { tokens: [], cutoffs: [], logCutoffs: [], messages: [], latest: 0 } as unknown as Batch;
    batch.promise = new Promise<void>((resolve, reject) => {
      batch.resolve = resolve;
      batch.reject = reject;
    });
    return batch;
  };

  const batchOf = (shard: number): Batch => {
    const open = batches[shard];
    if (open !== undefined) return open;
    const batch = openBatch();
    batches[shard] = batch;
    return batch;
  };

  const flush = (shard: number) => {
    const batch = batches[shard];
    if (batch === undefined) return;
    batches[shard] = undefined;
    const now = clock();
    const tokenCount = batch.tokens.length / 2;
    const logTokens = Buffer.allocUnsafe(tokenCount * LOG_RECORD);
    for (let n = 0; n < tokenCount; n++)
      (batch.tokens[2 * n + 1] as Buffer).copy(logTokens, n * LOG_RECORD, 0, LOG_RECORD);
    const call = client.eval(
      PUBLISH_SCRIPT,
      4,
      ...keysOf(shard),
      // The shard's epoch if this write is the first of its incarnation: fresh every time.
      crypto.randomUUID().replaceAll('-', ''),
      now,
      options.retentionMs,
      options.maxLogEntries,
      channel,
      shard,
      `"at":${now},"r":[${batch.messages.join(',')}]`,
      logTokens,
      batch.logCutoffs.length === 0 ? '' : `[${batch.logCutoffs.join(',')}]`,
      batch.latest,
      tokenCount,
      ...batch.tokens,
      ...batch.cutoffs,
    );
    timed(call, 'publish').then(batch.resolve, batch.reject);
  };

  const flushAll = () => {
    scheduled = false;
    for (let shard = 0; shard < SHARDS; shard++) flush(shard);
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
      const revocations: CutoffRevocation[] = [];
      const blobs: Buffer[] = [];
      changes.forEach((change, shard) => {
        next[logName(shard)] = change!.position;
        for (const cutoff of change!.cutoffs) revocations.push(cutoff);
        for (const blob of change!.tokens) blobs.push(blob);
      });
      return { complete: false, revocations, tokens: tokensOfLog(blobs, now), cursor: next };
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
  ): Promise<{ position: ChangePosition; tokens: Buffer[]; cutoffs: CutoffRevocation[] } | undefined> {
    const [, , log, meta] = keysOf(shard);
    const tokens: Buffer[] = [];
    const cutoffs: CutoffRevocation[] = [];
    let epoch = from.epoch;
    let seq = from.seq;
    while (seq < to) {
      const answer = (await timed(
        client.callBuffer('EVAL', READ_LOG_SCRIPT, 2, meta, log, epoch, seq, to, LOG_READ_COUNT),
        'read',
      )) as [Buffer, Buffer?, Array<[Buffer, Buffer[]]>?];
      if (answer[0].toString() !== 'ok') return undefined;
      epoch = answer[1]!.toString();
      const entries = answer[2]!;
      if (entries.length === 0) return undefined; // the head said there was more
      for (const [id, fields] of entries) {
        // Contiguous numbers: anything else means entries in between were trimmed.
        if (Number.parseInt(id.toString(), 10) !== seq + 1) return undefined;
        seq++;
        for (let f = 0; f + 1 < fields.length; f += 2) {
          const name = fields[f]!.toString();
          if (name === 't') tokens.push(fields[f + 1]!);
          else if (name === 'c') for (const cutoff of parseCutoffs(fields[f + 1]!.toString())) cutoffs.push(cutoff);
        }
      }
    }
    return { position: { log: logName(shard), epoch, seq }, tokens, cutoffs };
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

  /**
   * A shard's buckets (HVALS: one reply, the bucket names are not needed) and cutoffs. One call
   * per shard, the 16 in parallel (on a Cluster, to every master at once); at 10^6 revocations a
   * shard's reply is ~6 MB, which Redis serves in a few milliseconds.
   */
  async function readShard(shard: number): Promise<{ buckets: Buffer[]; cutoffs: CutoffRevocation[] }> {
    const [tokens, cutoffKey] = keysOf(shard);
    const [buckets, flat] = (await Promise.all([
      timed(client.callBuffer('HVALS', tokens), 'read'),
      timed(client.callBuffer('HGETALL', cutoffKey), 'read'),
    ])) as [Buffer[], Buffer[]];
    const cutoffs: CutoffRevocation[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const cutoff = cutoffFrom(flat[i]!.toString('utf8'), flat[i + 1]!.toString('utf8'));
      if (cutoff) cutoffs.push(cutoff);
    }
    return { buckets, cutoffs };
  }

  return {
    publish(revocation, origin) {
      const expiresAt = Math.ceil(revocation.expiresAt);
      let shard: number;
      if (origin !== lastOrigin) {
        lastOrigin = origin;
        originJson = origin === undefined ? '' : `,"origin":${JSON.stringify(origin)}`;
      }
      if (revocation.type === 'token') {
        const { key } = revocation;
        const digest = tokenDigestOf(key);
        shard = digest[0]! % SHARDS;
        const batch = batchOf(shard);
        batch.tokens.push(FIELDS[(digest[1]! << 6) | (digest[2]! >> 2)]!, tokenRecord(digest, expiresAt, key));
        const until = JSON.stringify(revocation.expiresAt);
        batch.messages.push(`{"type":"token","key":${JSON.stringify(key)},"expiresAt":${until}${originJson}}`);
        if (expiresAt > batch.latest) batch.latest = expiresAt;
      } else {
        const target = revocationTarget(revocation);
        shard = tokenDigestOf(target)[0]! % SHARDS;
        const batch = batchOf(shard);
        batch.cutoffs.push(target, revocation.cutoff, expiresAt);
        const json = JSON.stringify(revocation);
        batch.logCutoffs.push(json);
        batch.messages.push(originJson === '' ? json : `${json.slice(0, -1)}${originJson}}`);
        if (expiresAt > batch.latest) batch.latest = expiresAt;
      }
      const batch = batches[shard]!;
      if (batch.messages.length >= MAX_BATCH) flush(shard);
      else if (!scheduled) {
        scheduled = true;
        queueMicrotask(flushAll);
      }
      return batch.promise;
    },
    async snapshot(now) {
      const shards = await Promise.all(Array.from({ length: SHARDS }, (_, shard) => readShard(shard)));
      const found = new Map<string, Revocation>();
      const add = (revocation: Revocation) => {
        const target = revocationTarget(revocation);
        found.set(target, mergeRevocation(found.get(target), revocation));
      };
      for (const shard of shards) {
        for (const bucket of shard.buckets) {
          for (let pos = 0, end = recordEnd(bucket, 0); end !== -1; pos = end, end = recordEnd(bucket, pos)) {
            const until = expiryOf(bucket, pos);
            if (until <= now) continue;
            const key =
              end > pos + RECORD_HEADER ? bucket.toString('utf8', pos + RECORD_HEADER, end) : digestKey(bucket, pos);
            add({ type: 'token', key, expiresAt: until });
          }
        }
        for (const cutoff of shard.cutoffs) if (cutoff.expiresAt > now) add(cutoff);
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

/**
 * A token's bucket record: digest, expiry (ms, 48 bits), key length and key. A key known only by
 * its digest (`digest:` keys), or too long to record, is kept as the digest alone.
 */
function tokenRecord(digest: Uint8Array, expiresAt: number, key: string): Buffer {
  const keyBytes = isDigestKey(key) ? 0 : Buffer.byteLength(key);
  const length = keyBytes > MAX_KEY_BYTES ? 0 : keyBytes;
  const record = Buffer.allocUnsafe(RECORD_HEADER + length);
  record.set(digest.subarray(0, TOKEN_DIGEST_BYTES), 0);
  const high = Math.floor(expiresAt / 2 ** 32);
  record.writeUInt16BE(Math.min(high, 0xffff), 16);
  record.writeUInt32BE(expiresAt - high * 2 ** 32, 18);
  record.writeUInt16BE(length, 22);
  if (length > 0) record.write(key, RECORD_HEADER, 'utf8');
  return record;
}

/** Token revocations of log entries (digest and 48-bit expiry each) as compact tokens, those in force at `now`. */
function tokensOfLog(blobs: Buffer[], now: number): CompactTokens {
  let total = 0;
  for (const blob of blobs) total += Math.floor(blob.length / LOG_RECORD);
  const digests = new Uint8Array(total * TOKEN_DIGEST_BYTES);
  const expiresAt = new Uint32Array(total);
  let n = 0;
  for (const blob of blobs) {
    for (let pos = 0; pos + LOG_RECORD <= blob.length; pos += LOG_RECORD) {
      const until = expiryOf(blob, pos);
      if (until <= now) continue;
      blob.copy(digests, n * TOKEN_DIGEST_BYTES, pos, pos + TOKEN_DIGEST_BYTES);
      expiresAt[n++] = Math.ceil(until / 1000);
    }
  }
  return { digests, expiresAt, count: n };
}

function parseCutoffs(json: string): CutoffRevocation[] {
  let items: unknown;
  try {
    items = JSON.parse(json);
  } catch {
    return [];
  }
  if (!Array.isArray(items)) return [];
  const out: CutoffRevocation[] = [];
  for (const item of items) {
    const revocation = parseRevocation(item);
    if (revocation && revocation.type !== 'token') out.push(revocation);
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
