/**
 * Apollo's parsed-document cache is bounded by what it really keeps. A parsed document holds
 * its whole source text and every lexer token, comments included (the token limit does not
 * count comments), so `{ __typename }` padded with a comment is a new, valid, cacheable
 * document each time. 2,000 distinct documents at GRAPHQL_MAX_DOCUMENT_BYTES, half padded with
 * one long comment (text-heavy), half with `#\n` lines (token-heavy: ~1.4 MB of token objects
 * each), leave the heap within the cache's limit plus a fixed allowance.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentStore, createSizedDocumentCache, documentRetainedBytes } from '../../src/graphql-limits/document-store.js';
import { parse } from 'graphql';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const MAX_DOCUMENT_BYTES = 32 * 1024;
const CACHE_BYTES = 8 * 1024 * 1024;
/** What the heap may grow by beyond the cache's limit: sockets, Apollo's other caches, JIT code, allocator slack. */
const ALLOWANCE_BYTES = 24 * 1024 * 1024;
const DOCUMENTS = 2000;

/** A valid document of exactly MAX_DOCUMENT_BYTES, distinct for each `i`. */
function maximalDocument(i: number): string {
  const head = `{ __typename } # ${i}\n`;
  const room = MAX_DOCUMENT_BYTES - head.length;
  const document = i % 2 === 0 ? `${head}#${'x'.repeat(room - 1)}` : `${head}${'#\n'.repeat(Math.floor(room / 2))}${room % 2 ? ' ' : ''}`;
  return document;
}

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('the parsed-document cache', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      env: { GRAPHQL_MAX_DOCUMENT_BYTES: String(MAX_DOCUMENT_BYTES), GRAPHQL_DOCUMENT_CACHE_BYTES: String(CACHE_BYTES) },
    });
  });
  afterAll(() => server.close());

  it(`counts a document at least at what it keeps (source text and tokens)`, () => {
    for (const i of [0, 1]) {
      const source = maximalDocument(i);
      expect(Buffer.byteLength(source)).toBe(MAX_DOCUMENT_BYTES);
      const before = heapUsed();
      const kept = Array.from({ length: 50 }, () => parse(JSON.parse(JSON.stringify(source)) as string));
      const perDocument = (heapUsed() - before) / kept.length;
      expect(documentRetainedBytes(kept[0]!)).toBeGreaterThan(perDocument);
    }
  });

  it('evicts documents not used since last passed over (CLOCK) past its limit, and never keeps one larger than the limit', async () => {
    const store = createDocumentStore({ maxBytes: 3 * documentRetainedBytes(parse('{ __typename }')) + 6 * 4 });
    for (const key of ['aaaa', 'bbbb', 'cccc']) await store.set(key, parse('{ __typename }'));
    expect(store.size).toBe(3);
    await store.get('aaaa');
    await store.set('dddd', parse('{ __typename }'));
    expect(await store.get('bbbb')).toBeUndefined();
    expect(await store.get('aaaa')).toBeDefined();
    await store.set('big', parse(maximalDocument(1)));
    expect(await store.get('big')).toBeUndefined();
    expect(store.size).toBe(3);
  });

  it('the WebSocket pipeline\'s cache (by source text) is the same: a hit moves nothing, the entry not used since goes first', () => {
    const doc = parse('{ __typename }');
    const cache = createSizedDocumentCache(3 * (documentRetainedBytes(doc) + 8));
    for (const key of ['aaaa', 'bbbb', 'cccc']) cache.set(key, doc, 8);
    const bytes = cache.bytes;
    for (let i = 0; i < 1000; i += 1) expect(cache.get('aaaa')).toBe(doc);
    expect(cache.bytes).toBe(bytes);
    cache.set('dddd', doc, 8);
    expect(cache.get('bbbb')).toBeUndefined();
    expect(cache.get('aaaa')).toBe(doc);
    expect(cache.size).toBe(3);
  });

  it(`leaves the heap within ${CACHE_BYTES / 2 ** 20} MiB (the cache) + ${ALLOWANCE_BYTES / 2 ** 20} MiB after ${DOCUMENTS} distinct maximal documents`, async () => {
    // Warm up: the server's own first allocations are not the cache's.
    for (let i = 0; i < 20; i++) expect((await server.graphql(`{ __typename } # warm ${i}`)).status).toBe(200);
    const before = heapUsed();
    let growth = 0;
    for (let sent = 0; sent < DOCUMENTS; ) {
      const batch = Array.from({ length: 8 }, (_, k) => maximalDocument(sent + k));
      const answers = await Promise.all(batch.map((query) => server.graphql(query)));
      for (const answer of answers) {
        expect(answer.status).toBe(200);
        expect(answer.body).toEqual({ data: { __typename: 'Query' } });
      }
      sent += batch.length;
      // Checked as it goes: an unbounded cache fails here long before it exhausts the heap.
      if (sent % 200 === 0) {
        growth = heapUsed() - before;
        expect(growth, `after ${sent} documents`).toBeLessThan(CACHE_BYTES + ALLOWANCE_BYTES);
      }
    }
    console.info(`[document-cache] heap growth after ${DOCUMENTS} maximal documents: ${(growth / 2 ** 20).toFixed(1)} MiB`);
  }, 120_000);
});
