/**
 * The hostile-request corpus: ONE list of hostile operations, each run over HTTP and over the
 * WebSocket (graphql-transport-ws) against the real API process (src/server/main.ts, production
 * mode, real Redis), each expected to end with the same code on both transports. A protection
 * that exists on one transport only fails here. Both transports call one request pipeline
 * (src/pipeline/request-pipeline.ts).
 *
 * How each transport says a code: HTTP in `errors[0].extensions.code` (with a 4xx status for a
 * refusal); the socket in an `error` message (or a `next` with errors) for the operation, or,
 * for a message that can't be read as one (no operation id to answer), by closing with 4400,
 * graphql-ws's "Bad Request": read here as BAD_REQUEST.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiProcess, type ApiProcess } from '../production/api-process.js';
import { httpRequest, uniqueUsername } from '../helpers/test-server.js';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { openRaw, type RawSocket } from '../helpers/ws-raw.js';

const MAX_BODY_BYTES = 1_048_576;

/** One hostile operation. */
interface HostileCase {
  name: string;
  query?: unknown;
  /** Raw JSON text of `variables` (to send what JSON.stringify would not build cheaply). */
  variablesJson?: string;
  variables?: Record<string, unknown>;
  operationName?: string;
  /** The whole HTTP body and WebSocket message, as is. */
  raw?: string;
  /** Sent with a valid token (HTTP Authorization; connection_init on the socket). */
  token?: boolean;
  /** The code expected on both transports ('OK' for data without errors). */
  code: string;
  /** What no error message may contain. */
  messageNot?: RegExp;
  /** Bound on the answer's time, ms. */
  maxMs?: number;
}

/** `length` characters of "Did you mean " with no "?": the worst case of the old suggestion regex. */
function suggestions(length: number): string {
  return 'Did you mean '.repeat(Math.ceil(length / 13)).slice(0, length);
}

function nested(levels: number): string {
  return `${'['.repeat(levels)}${']'.repeat(levels)}`;
}

let deep = 'id';
for (let i = 0; i < 11; i++) deep = `f${i} { ${deep} }`;

export const HOSTILE_CASES: HostileCase[] = [
  { name: 'a well-formed anonymous query (control)', query: '{ __typename }', code: 'OK' },
  { name: 'an @authenticated field without a token', query: '{ me { id } }', code: 'UNAUTHENTICATED' },
  { name: 'a syntax error', query: '{ me { id }', code: 'GRAPHQL_PARSE_FAILED' },
  { name: 'more than 1000 tokens', query: `{ ${'__typename '.repeat(1100)} }`, code: 'GRAPHQL_PARSE_FAILED' },
  { name: 'an unknown field, without a "Did you mean" suggestion', query: '{ me { idd } }', token: true, code: 'GRAPHQL_VALIDATION_FAILED', messageNot: /Did you mean/ },
  { name: 'introspection in production', query: '{ __schema { types { name } } }', code: 'GRAPHQL_VALIDATION_FAILED' },
  { name: 'a document deeper than 10 levels', query: `{ me { ${deep} } }`, token: true, code: 'GRAPHQL_VALIDATION_FAILED' },
  { name: '16 aliases', query: `{ ${Array.from({ length: 16 }, (_, i) => `a${i}: me { id }`).join(' ')} }`, token: true, code: 'GRAPHQL_VALIDATION_FAILED' },
  {
    name: 'signIn twice in one document',
    query: 'mutation { a: signIn(username: "x", password: "y") { accessToken } b: signIn(username: "x", password: "z") { accessToken } }',
    code: 'GRAPHQL_VALIDATION_FAILED',
  },
  { name: 'a document over GRAPHQL_MAX_DOCUMENT_BYTES (comments count)', query: `{ __typename }\n${'#'.repeat(40_000)}\n`, code: 'DOCUMENT_TOO_LARGE' },
  {
    name: 'a variable of the wrong type (an object for a String)',
    query: 'mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { accessToken } }',
    variables: { u: { nested: ['x'.repeat(100_000)] }, p: 'y' },
    code: 'BAD_USER_INPUT',
  },
  { name: 'a required variable missing', query: 'query($b: Boolean!) { __typename @include(if: $b) }', code: 'BAD_USER_INPUT' },
  {
    name: 'the quadratic "Did you mean" payload in a variable of the wrong type (~1 MiB)',
    query: 'query($b: Boolean!) { __typename @include(if: $b) }',
    variablesJson: JSON.stringify({ b: suggestions(MAX_BODY_BYTES - 2048) }),
    code: 'BAD_USER_INPUT',
    maxMs: 1000,
  },
  { name: 'an unknown operationName', query: 'query A { __typename }', operationName: 'B', code: 'OPERATION_RESOLUTION_FAILURE' },
  { name: 'variables nested 100 levels deep', query: '{ __typename }', variablesJson: `{"x":${nested(100)}}`, code: 'BAD_REQUEST' },
  { name: '1 MiB of "["', raw: '['.repeat(MAX_BODY_BYTES), code: 'BAD_REQUEST', maxMs: 1000 },
  { name: 'a message that is not an object', raw: '"hello"', code: 'BAD_REQUEST' },
  { name: 'a query that is not a string', query: 42, code: 'BAD_REQUEST' },
];

/** What a transport answered: the code, and the error messages. */
interface Outcome {
  code: string;
  messages: string[];
  ms: number;
}

function payloadJson(c: HostileCase): string {
  const parts = [`"query":${JSON.stringify(c.query)}`];
  if (c.variablesJson) parts.push(`"variables":${c.variablesJson}`);
  else if (c.variables) parts.push(`"variables":${JSON.stringify(c.variables)}`);
  if (c.operationName) parts.push(`"operationName":${JSON.stringify(c.operationName)}`);
  return `{${parts.join(',')}}`;
}

type Errors = Array<{ message: string; extensions?: { code?: string } }>;

function fromErrors(errors: Errors | undefined, ms: number): Outcome {
  if (!errors || errors.length === 0) return { code: 'OK', messages: [], ms };
  return { code: String(errors[0]?.extensions?.code), messages: errors.map((e) => e.message), ms };
}

describe('the hostile-request corpus, over HTTP and WebSocket alike', () => {
  let api: ApiProcess;
  let token: string;

  beforeAll(async () => {
    api = await startApiProcess({
      REDIS_URL: requireRedisUrl(),
      REDIS_KEY_PREFIX: `corpus${Date.now()}`,
      LOG_LEVEL: 'debug',
      WS_KEEPALIVE_MS: '0',
    });
    ({ token } = await api.signUp(uniqueUsername('corpus')));
  }, 60_000);
  afterAll(async () => {
    await api?.kill();
  });

  const transports: Record<'HTTP' | 'WebSocket', (c: HostileCase) => Promise<Outcome>> = {
    async HTTP(c) {
      const body = c.raw ?? payloadJson(c);
      const started = performance.now();
      const answer = await httpRequest(api.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(c.token ? { authorization: `Bearer ${token}` } : {}) },
        body,
        signal: AbortSignal.timeout(20_000),
      });
      const ms = performance.now() - started;
      expect(answer.text).not.toMatch(/"stacktrace"|INTERNAL_SERVER_ERROR/);
      const outcome = fromErrors(answer.body?.errors as Errors | undefined, ms);
      // A refusal is a 4xx (an operation that ran is 200, its errors in the body).
      if (outcome.code !== 'OK' && outcome.code !== 'UNAUTHENTICATED') expect(answer.status).toBeGreaterThanOrEqual(400);
      return outcome;
    },
    async WebSocket(c) {
      const socket: RawSocket = await openRaw(api.url.replace(/^http/, 'ws'));
      try {
        socket.send({ type: 'connection_init', payload: c.token ? { authorization: `Bearer ${token}` } : {} });
        await socket.next((m) => m.type === 'connection_ack');
        const message = c.raw ?? `{"id":"op","type":"subscribe","payload":${payloadJson(c)}}`;
        const started = performance.now();
        socket.send(message);
        const answer = await Promise.race([
          socket.next((m) => m.id === 'op' && (m.type === 'error' || m.type === 'next'), 20_000).catch(() => undefined),
          socket.closed,
        ]);
        const ms = performance.now() - started;
        if (!answer || 'code' in answer) {
          const close = socket.close ?? (await socket.closed);
          // graphql-ws's Bad Request: the message could not be read as an operation.
          expect(close.code, close.reason).toBe(4400);
          return { code: 'BAD_REQUEST', messages: [close.reason], ms };
        }
        expect(JSON.stringify(answer)).not.toMatch(/"stacktrace"|INTERNAL_SERVER_ERROR/);
        const errors = answer.type === 'error' ? (answer.payload as Errors) : ((answer.payload as { errors?: Errors }).errors ?? undefined);
        return fromErrors(errors, ms);
      } finally {
        socket.terminate();
      }
    },
  };

  for (const transport of ['HTTP', 'WebSocket'] as const) {
    describe(`over ${transport}`, () => {
      for (const c of HOSTILE_CASES) {
        it(`${c.name}: ${c.code}`, async () => {
          const outcome = await transports[transport](c);
          expect(outcome.code, outcome.messages.join(' | ').slice(0, 500)).toBe(c.code);
          if (c.messageNot) for (const message of outcome.messages) expect(message).not.toMatch(c.messageNot);
          if (c.maxMs !== undefined) expect(outcome.ms).toBeLessThan(c.maxMs);
        });
      }
    });
  }

  it('logged no line longer than 8 KiB and nothing at error level for any of them', async () => {
    // Let the last lines arrive.
    await api.get('/healthz');
    const long = api.output.filter((line) => Buffer.byteLength(line, 'utf8') + 1 > 8192);
    expect(long.map((line) => line.slice(0, 200))).toEqual([]);
    const logs = api.logs();
    expect(logs.filter((line) => line.level >= 50).map((line) => line.msg)).toEqual([]);
    // The mistakes were logged, at debug, with their codes.
    const mistakes = logs.filter((line) => line.msg === 'request refused: client mistake');
    expect(new Set(mistakes.map((line) => line.level))).toEqual(new Set([20]));
    expect(new Set(mistakes.map((line) => line.code))).toEqual(
      new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'DOCUMENT_TOO_LARGE', 'BAD_USER_INPUT', 'OPERATION_RESOLUTION_FAILURE', 'BAD_REQUEST']),
    );
  });
});
