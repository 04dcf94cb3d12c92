import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { exceedsBytes, stripSuggestions } from '../../src/graphql-limits/graphql-limits.js';
import { documentTooLarge, jsonTooDeep } from '../../src/server/http-graphql.js';

/** The regex stripSuggestions replaces: the same output is required, in linear time. */
const OLD = / ?Did you mean [^?]*\?/g;

describe('stripSuggestions', () => {
  it('gives what the old regex gave, on graphql-js messages and on random mixes of its parts', () => {
    const fixed = [
      'Cannot query field "mee" on type "Query". Did you mean "me"?',
      'Unknown argument "usernme" on field "Mutation.signIn". Did you mean "username"?',
      'a? Did you mean b? Did you mean c?Did you mean d? end',
      'Did you mean no question mark',
      'Did you mean ',
      '',
      ' Did you mean x?',
      'x Did you mean  y? z',
    ];
    const parts = ['Did you mean ', ' ', '?', 'x', 'Did you mean', '"me"', 'Did you mean?'];
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31);
    const mixes = Array.from({ length: 2000 }, () => Array.from({ length: Math.floor(random() * 12) }, () => parts[Math.floor(random() * parts.length)]).join(''));
    for (const message of [...fixed, ...mixes]) expect(stripSuggestions(message), JSON.stringify(message)).toBe(message.replace(OLD, ''));
  });

  it('takes linear time on the old regex worst case (many "Did you mean", no "?")', () => {
    const time = (n: number) => {
      const message = 'Did you mean '.repeat(n);
      const started = performance.now();
      for (let i = 0; i < 5; i++) stripSuggestions(message);
      return performance.now() - started;
    };
    time(20_000);
    // 8x the text: a linear pass takes ~8x; the old regex took ~64x. Loose for shared CPUs.
    expect(time(160_000)).toBeLessThan(30 * time(20_000) + 20);
  });
});

describe('document size', () => {
  it('counts UTF-8 bytes, deciding by length alone when it can', () => {
    expect(exceedsBytes('a'.repeat(100), 100)).toBe(false);
    expect(exceedsBytes('a'.repeat(101), 100)).toBe(true);
    expect(exceedsBytes('é'.repeat(50), 100)).toBe(false);
    expect(exceedsBytes('é'.repeat(51), 100)).toBe(true);
    expect(exceedsBytes('😀'.repeat(25), 100)).toBe(false);
    expect(exceedsBytes('😀'.repeat(26), 100)).toBe(true);
  });

  it('checks the POST body, each operation of a batch and the GET query parameter', () => {
    const big = `{ __typename } #${'x'.repeat(100)}`;
    expect(documentTooLarge({ query: big }, '', 100)).toBe(true);
    expect(documentTooLarge({ query: '{ __typename }' }, '', 100)).toBe(false);
    expect(documentTooLarge([{ query: '{ a }' }, { query: big }], '', 100)).toBe(true);
    expect(documentTooLarge(undefined, `?query=${encodeURIComponent(big)}`, 100)).toBe(true);
    expect(documentTooLarge(undefined, `?query=${encodeURIComponent('{ a }')}&variables=${'x'.repeat(200)}`, 100)).toBe(false);
    expect(documentTooLarge({ query: 42 }, '', 100)).toBe(false);
    expect(documentTooLarge(null, '', 100)).toBe(false);
  });
});

describe('JSON depth', () => {
  it('counts arrays and objects, not brackets inside strings or escaped quotes', () => {
    expect(jsonTooDeep('[[[]]]', 3)).toBe(false);
    expect(jsonTooDeep('[[[[]]]]', 3)).toBe(true);
    expect(jsonTooDeep('{"a":{"b":{"c":1}}}', 3)).toBe(false);
    expect(jsonTooDeep('{"a":{"b":{"c":{}}}}', 3)).toBe(true);
    expect(jsonTooDeep('["[[[[[[", "\\"]', 2)).toBe(false);
    expect(jsonTooDeep('["\\\"[[[[[["]', 2)).toBe(false);
    expect(jsonTooDeep('[[],[],[],[]]', 2)).toBe(false);
  });
});

describe('config of the request limits', () => {
  it('has the documented defaults', () => {
    const { config } = loadConfig({});
    expect(config.http.limits).toEqual({ headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5000, maxConnections: 1000, reservedConnections: 100, maxHeaderBytes: 131_072 });
    expect(config.graphql.maxDocumentBytes).toBe(32_768);
    expect(config.graphql.documentCacheBytes).toBe(16 * 1024 * 1024);
    expect(config.signUp).toEqual({ maxPerAddress: 10, windowSeconds: 3600 });
    expect(config.metrics).toEqual({ port: undefined, host: '127.0.0.1' });
  });

  it('reads the overrides and refuses inconsistent ones', () => {
    const { config } = loadConfig({ HTTP_MAX_CONNECTIONS: '50', GRAPHQL_MAX_DOCUMENT_BYTES: '1024', SIGNUP_MAX_PER_ADDRESS: '3', METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' });
    expect(config.http.limits.maxConnections).toBe(50);
    expect(config.graphql.maxDocumentBytes).toBe(1024);
    expect(config.signUp.maxPerAddress).toBe(3);
    expect(config.metrics).toEqual({ port: 9464, host: '0.0.0.0' });
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '10000' })).toThrow(/HTTP_HEADERS_TIMEOUT_MS must not exceed/);
    expect(() => loadConfig({ PORT: '9464', METRICS_PORT: '9464' })).toThrow(/METRICS_PORT must differ from PORT/);
    expect(() => loadConfig({ HTTP_MAX_CONNECTIONS: '0' })).toThrow(/HTTP_MAX_CONNECTIONS/);
    expect(() => loadConfig({ METRICS_PORT: 'metrics' })).toThrow(/METRICS_PORT/);
  });
});
