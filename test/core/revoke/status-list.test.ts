/**
 * The status array of a Token Status List: decoded with Web-standard APIs only, read LSB-first
 * (checked against the draft's own test vectors, not only against our own encoder), and refused
 * when it is not base64url of ZLIB data or inflates past the cap — a decompression bomb included,
 * which must stop at the cap quickly and without inflating the rest.
 */
import { describe, expect, it } from '@jest/globals';
import { constants, createDeflate, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { HttpRequestError } from '../../../src/index.js';
import { decodeStatusList, OUT_OF_RANGE, statusAt } from '../../../src/core/revoke/status-list.js';

const lstOf = (bytes: Uint8Array | number[]) => deflateSync(Uint8Array.from(bytes), { level: 9 }).toString('base64url');

/** Rejects with an HttpRequestError of `kind`. */
async function refusedAs(promise: Promise<unknown>, kind: HttpRequestError['kind']): Promise<HttpRequestError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the list to be refused');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HttpRequestError);
  expect((error as HttpRequestError).kind).toBe(kind);
  return error as HttpRequestError;
}

describe('the draft-ietf-oauth-status-list test vectors', () => {
  it('1 bit, 16 entries: 0xB9 0xA3 (§4.1)', async () => {
    const list = await decodeStatusList('eNrbuRgAAhcBXQ', 1, 1024);
    expect([...list.bytes]).toEqual([0xb9, 0xa3]);
    expect(list.size).toBe(16);
    const expected = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1];
    expect(expected.map((_, i) => statusAt(list, i))).toEqual(expected);
    expect(statusAt(list, 16)).toBe(OUT_OF_RANGE);
  });

  it('2 bits, 12 entries: 0xC9 0x44 0xF9 (§4.1)', async () => {
    const list = await decodeStatusList('eNo76fITAAPfAgc', 2, 1024);
    expect([...list.bytes]).toEqual([0xc9, 0x44, 0xf9]);
    const expected = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3];
    expect(expected.map((_, i) => statusAt(list, i))).toEqual(expected);
  });

  it('1 bit, 2^20 entries (Appendix: test vectors)', async () => {
    const lst =
      'eNrt3AENwCAMAEGogklACtKQPg9LugC9k_ACvreiogEAAKkeCQAAAAAAAAAAAAAAAAAAAIBylgQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' +
      'AAAAAAAAAAAAAAAAAAAAXG9IAAAAAAAAAPwsJAAAAAAAAAAAAAAAvhsSAAAAAAAAAAAA7KpLAAAAAAAAAAAAAAAAAAAAAJsLCQAAAAAAAAAA' +
      'ADjelAAAAAAAAAAAKjDMAQAAAACAZC8L2AEb';
    const list = await decodeStatusList(lst, 1, 1 << 20);
    expect(list.size).toBe(2 ** 20);
    const set = [0, 1993, 25460, 159495, 495669, 554353, 645645, 723232, 854545, 934534, 1000345];
    for (const index of set) expect(statusAt(list, index)).toBe(1);
    let ones = 0;
    for (let i = 0; i < list.size; i++) ones += statusAt(list, i);
    expect(ones).toBe(set.length);
  });

  it('2 bits, 2^20 entries (Appendix: test vectors)', async () => {
    const lst =
      'eNrt2zENACEQAEEuoaBABP5VIO01fCjIHTMStt9ovGVIAAAAAABAbiEBAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEB5WwIAAAAA' +
      'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAID0ugQA' +
      'AAAAAAAAAAAAAAAAQG12SgAAAAAAAAAAAAAAAAAAAAAAAAAAAOCSIQEAAAAAAAAAAAAAAAAAAAAAAAD8ExIAAAAAAAAAAAAAAAAAAAAAAAAA' +
      'AAAAAAAAAAAAAAAAwJEuAQAAAAAAAAAAAAAAAAAAAAAAAMB9SwIAAAAAAAAAAAAAAAAAAACoYUoAAAAAAAAAAAAAAEBqH81gAQw';
    const list = await decodeStatusList(lst, 2, 1 << 20);
    expect(list.size).toBe(2 ** 20);
    const set: Array<[number, number]> = [
      [0, 1],
      [1993, 2],
      [25460, 1],
      [159495, 3],
      [495669, 1],
      [554353, 1],
      [645645, 2],
      [723232, 1],
      [854545, 1],
      [934534, 2],
      [1000345, 3],
    ];
    for (const [index, status] of set) expect(statusAt(list, index)).toBe(status);
    expect(statusAt(list, 1)).toBe(0);
  });
});

describe('statusAt', () => {
  it.each([4, 8] as const)('reads %i-bit entries, least significant bits first', async (bits) => {
    const perByte = 8 / bits;
    const statuses = Array.from({ length: 64 }, (_, i) => (i * 7 + 3) % 2 ** bits);
    const bytes = new Uint8Array(statuses.length / perByte);
    statuses.forEach((status, i) => {
      bytes[Math.floor(i / perByte)]! |= status << ((i % perByte) * bits);
    });
    const list = await decodeStatusList(lstOf(bytes), bits, 1024);
    expect(statuses.map((_, i) => statusAt(list, i))).toEqual(statuses);
    expect(statusAt(list, statuses.length)).toBe(OUT_OF_RANGE);
  });

  it('an empty list has no entry at all', async () => {
    const list = await decodeStatusList(lstOf([]), 1, 1024);
    expect(list.size).toBe(0);
    expect(statusAt(list, 0)).toBe(OUT_OF_RANGE);
  });
});

describe('refused lists', () => {
  it.each<[string, string]>([
    ['padding', `${lstOf([1, 2, 3])}=`],
    ['standard base64 characters', `${lstOf([0xff, 0xfe, 0xfd]).replace(/-/g, '+').replace(/_/g, '/')}+/`],
    ['whitespace', ` ${lstOf([1])}`],
    ['an impossible length', 'AAAAA'],
  ])('not base64url: %s', async (_name, lst) => {
    await refusedAs(decodeStatusList(lst, 1, 1024), 'invalid_body');
  });

  it.each<[string, Buffer]>([
    ['plain bytes', Buffer.from('not compressed at all')],
    ['raw DEFLATE without the ZLIB header', deflateRawSync(Buffer.alloc(16))],
    ['gzip', gzipSync(Buffer.alloc(16))],
    ['a truncated ZLIB stream', deflateSync(Buffer.alloc(4096, 7)).subarray(0, 12)],
    ['nothing', Buffer.alloc(0)],
  ])('not ZLIB: %s', async (_name, bytes) => {
    const error = await refusedAs(decodeStatusList(bytes.toString('base64url'), 1, 1024), 'invalid_body');
    expect(error.message).toMatch(/not ZLIB/);
  });

  it('takes exactly the cap, and refuses one byte more', async () => {
    await expect(decodeStatusList(lstOf(new Uint8Array(4096)), 1, 4096)).resolves.toMatchObject({ size: 32_768 });
    await refusedAs(decodeStatusList(lstOf(new Uint8Array(4097)), 1, 4096), 'too_large');
  });

  it('stops a decompression bomb (1 GiB of zeros in ~1 MB) at the cap: fast, and without inflating the rest', async () => {
    const bomb = await deflatedZeros(1024 * 1024 * 1024);
    expect(bomb.length).toBeLessThan(1_100_000);
    const lst = bomb.toString('base64url');
    const heapBefore = process.memoryUsage().arrayBuffers;
    const started = performance.now();
    const error = await refusedAs(decodeStatusList(lst, 1, 4 * 1024 * 1024), 'too_large');
    const elapsed = performance.now() - started;
    expect(error.message).toMatch(/more than the 4194304-byte limit/);
    // Inflating all of it takes seconds and a gigabyte; stopping at 4 MiB takes milliseconds. A
    // generous bound (shared CI machines): what matters is that it is nowhere near the whole.
    expect(elapsed).toBeLessThan(1_000);
    expect(process.memoryUsage().arrayBuffers - heapBefore).toBeLessThan(64 * 1024 * 1024);
  });
});

/** `size` zero bytes, ZLIB-compressed (RLE: fast, and as small as DEFLATE gets, ~1032:1). */
function deflatedZeros(size: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const deflate = createDeflate({ level: 9, strategy: constants.Z_RLE });
    const parts: Buffer[] = [];
    deflate.on('data', (part: Buffer) => parts.push(part));
    deflate.on('end', () => resolve(Buffer.concat(parts)));
    deflate.on('error', reject);
    const chunk = Buffer.alloc(64 * 1024 * 1024);
    for (let written = 0; written < size; written += chunk.length) deflate.write(chunk);
    deflate.end();
  });
}
