/**
 * The request pipeline's pure pieces (no I/O): the per-address key (IPv6 per /64), log lines
 * bounded to 8 KiB, and the codes and bounds of what the pipeline answers.
 */
import { Writable } from 'node:stream';
import { buildSchema, GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { createLogger, boundLogLine, MAX_LOG_LINE_BYTES } from '../../src/logger.js';
import { createRequestPipeline, MAX_ERROR_MESSAGE } from '../../src/pipeline/request-pipeline.js';
import { addressKey } from '../../src/server/client-address.js';
import type { TokenVerifier } from '../../src/auth/token-verifier.js';
import { MemoryRevocationStore } from '../../src/revocation/memory-store.js';

describe('addressKey', () => {
  it('keeps an IPv4 address, unwraps an IPv4-mapped one, and groups IPv6 by /64', () => {
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002:ffff:ffff:ffff:fff0')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:DB8:1:2:3:4:5:6%eth0')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('2001:db8::')).toBe('2001:db8:0:0::/64');
    expect(addressKey('not an address'.repeat(10))).toHaveLength(64);
  });
});

describe('log lines', () => {
  it('are at most 8 KiB whatever a field holds, and keep level, time and message', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const logger = createLogger('debug', { destination: sink });
    logger.debug({ value: 'x'.repeat(2_000_000) }, 'a long one');
    logger.error({ err: new Error('é'.repeat(100_000)) }, 'a wide one');
    logger.info({ short: true }, 'a short one');
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(Buffer.byteLength(line, 'utf8')).toBeLessThanOrEqual(MAX_LOG_LINE_BYTES);
    const [long, wide, short] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(long).toMatchObject({ level: 20, msg: 'a long one', truncatedFromBytes: expect.any(Number) });
    expect(String(long?.excerpt).length).toBeGreaterThan(1000);
    expect(wide).toMatchObject({ level: 50, msg: 'a wide one' });
    expect(short).toMatchObject({ level: 30, msg: 'a short one', short: true });
    expect(short?.truncatedFromBytes).toBeUndefined();
  });

  it('boundLogLine leaves a short line as it is and cuts a long one that is not JSON', () => {
    expect(boundLogLine('{"a":1}\n')).toBe('{"a":1}\n');
    const cut = boundLogLine(`${'\u0001'.repeat(100_000)}\n`);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(MAX_LOG_LINE_BYTES);
    expect(JSON.parse(cut).truncatedFromBytes).toBe(100_001);
  });
});

describe('the request pipeline', () => {
  const schema = buildSchema('type Query { a(n: Int): String, b: String }');
  const logged: Array<{ level: string; object: Record<string, unknown>; message: string }> = [];
  const logger = {
    debug: (object: object, message: string) => logged.push({ level: 'debug', object: object as Record<string, unknown>, message }),
    error: (object: object, message: string) => logged.push({ level: 'error', object: object as Record<string, unknown>, message }),
  };
  const pipeline = createRequestPipeline({
    schema,
    verifier: {} as TokenVerifier,
    revocations: new MemoryRevocationStore(),
    limits: { hideSuggestions: true, maxDepth: 3 },
    maxDocumentBytes: 1024,
    introspection: false,
    logger,
  });
  const codes = (result: ReturnType<typeof pipeline.prepare>) => (Array.isArray(result) ? [...new Set(result.map((e) => e.extensions.code))] : 'prepared');

  it('gives each client mistake its code', () => {
    expect(codes(pipeline.prepare({ query: '{ a }' }))).toBe('prepared');
    expect(codes(pipeline.prepare({ query: '{ a' }))).toEqual(['GRAPHQL_PARSE_FAILED']);
    expect(codes(pipeline.prepare({ query: '{ c }' }))).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(codes(pipeline.prepare({ query: '{ __schema { types { name } } }' }))).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(codes(pipeline.prepare({ query: `{ a }\n#${'x'.repeat(2000)}` }))).toEqual(['DOCUMENT_TOO_LARGE']);
    expect(codes(pipeline.prepare({ query: 'query($n: Int) { a(n: $n) }', variables: { n: 'seven' } }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(pipeline.prepare({ query: 'query A { a } query B { b }' }))).toEqual(['OPERATION_RESOLUTION_FAILURE']);
    expect(codes(pipeline.prepare({ query: 'query A { a }', operationName: 'C' }))).toEqual(['OPERATION_RESOLUTION_FAILURE']);
    expect(pipeline.checkMessage(`${'['.repeat(65)}${']'.repeat(65)}`)).toEqual({ code: 'BAD_REQUEST', status: 400, message: 'Request body nests JSON deeper than 64 levels' });
    expect(pipeline.checkMessage('{"query":"{ a }"}')).toBeUndefined();
  });

  it('strips suggestions in linear time, bounds what a client and the log are sent, and masks real faults', () => {
    const hostile = `Variable "$n" got invalid value "${'Did you mean '.repeat(80_000)}"`;
    const started = performance.now();
    const formatted = pipeline.formatError({ message: hostile, extensions: { code: 'BAD_USER_INPUT' } }, new GraphQLError(hostile));
    expect(performance.now() - started).toBeLessThan(200);
    expect(formatted.message).not.toMatch(/Did you mean [^?]*\?/);
    expect(formatted.message.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE + 40);
    const line = logged.at(-1);
    expect(line).toMatchObject({ level: 'debug', message: 'request refused: client mistake', object: { code: 'BAD_USER_INPUT' } });
    expect(String(line?.object.message).length).toBeLessThan(1100);
    expect(pipeline.formatError({ message: 'Cannot query field "c" on type "Query". Did you mean "a"?', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }, undefined).message).toBe(
      'Cannot query field "c" on type "Query".',
    );
    const fault = pipeline.formatError({ message: 'boom', extensions: { code: 'INTERNAL_SERVER_ERROR', stacktrace: ['x'] } }, new Error('y'.repeat(100_000)));
    expect(fault).toEqual({ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    expect(logged.at(-1)).toMatchObject({ level: 'error' });
    expect(JSON.stringify(logged.at(-1)).length).toBeLessThan(8192);
  });
});
