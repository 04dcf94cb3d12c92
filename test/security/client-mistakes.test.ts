/**
 * A client's mistakes are 4xx answers with a stable code, logged at debug without a stack:
 * an unsupported persisted-query version, a persisted-query hash that does not match its query,
 * a subscription over HTTP, a malformed request. Only real faults are error-level (and masked
 * in production).
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPasswordHasher, type PasswordHasher } from '../../src/auth/password.js';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { httpRequest, startTestServer, uniqueUsername, type HttpAnswer, type TestServer } from '../helpers/test-server.js';

interface LogLine {
  level: number;
  msg: string;
  code?: string;
  err?: { stack?: string };
}

/** A password hasher whose hash fails with a programmer error: a real fault behind signUp. */
const brokenPasswords: PasswordHasher = {
  ...createPasswordHasher({ cost: 1024 }),
  async hash(): Promise<string> {
    throw new TypeError('hash is broken');
  },
};

describe('client mistakes (NODE_ENV=production)', () => {
  const lines: LogLine[] = [];
  let server: TestServer;
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
        done();
      },
    });
    server = await startTestServer({
      redisUrl: requireRedisUrl(),
      env: { NODE_ENV: 'production' },
      passwords: brokenPasswords,
      logger: pino({ level: 'debug' }, sink),
    });
  });
  afterAll(() => server.close());

  function post(body: unknown): Promise<HttpAnswer> {
    return httpRequest(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }

  /** The answer is `status` with `code`, no stack anywhere, and the log has one debug line for it and nothing at warn or above. */
  async function expectMistake(send: () => Promise<HttpAnswer>, status: number, code: string) {
    const from = lines.length;
    const answer = await send();
    expect(answer.status, answer.text).toBe(status);
    expect(answer.body.errors).toHaveLength(1);
    expect(answer.body.errors[0].extensions.code).toBe(code);
    expect(answer.body.data).toBeUndefined();
    expect(answer.text).not.toMatch(/stack|at processGraphQLRequest|INTERNAL_SERVER_ERROR/);
    await new Promise((resolve) => setImmediate(resolve));
    const logged = lines.slice(from);
    expect(logged.filter((line) => line.level >= 40)).toEqual([]);
    expect(logged).toEqual([expect.objectContaining({ level: 20, msg: 'request refused: client mistake', code })]);
    expect(JSON.stringify(logged)).not.toMatch(/stack/);
  }

  it('an unsupported persisted-query version is 400 PERSISTED_QUERY_NOT_SUPPORTED', async () => {
    for (const version of [2, 0, '1', null]) {
      await expectMistake(() => post({ query: '{ __typename }', extensions: { persistedQuery: { version, sha256Hash: 'a'.repeat(64) } } }), 400, 'PERSISTED_QUERY_NOT_SUPPORTED');
    }
  });

  it('a persisted-query hash that does not match its query is 400 BAD_REQUEST', async () => {
    await expectMistake(() => post({ query: '{ __typename }', extensions: { persistedQuery: { version: 1, sha256Hash: 'a'.repeat(64) } } }), 400, 'BAD_REQUEST');
    await expectMistake(() => post({ query: '{ __typename }', extensions: { persistedQuery: { version: 1, sha256Hash: 42 } } }), 400, 'BAD_REQUEST');
  });

  it('a subscription over HTTP is 400 BAD_REQUEST (405 by GET), and runs nothing', async () => {
    // A valid subscription (sessionEvents is served over WebSocket, docs/live.md) sent over HTTP.
    await expectMistake(() => post({ query: 'subscription { sessionEvents { kind } }' }), 400, 'BAD_REQUEST');
    await expectMistake(() => post({ query: 'subscription S { sessionEvents { kind } }', operationName: 'S' }), 400, 'BAD_REQUEST');
    await expectMistake(
      () => httpRequest(`${server.url}?query=${encodeURIComponent('subscription { sessionEvents { kind } }')}`, { headers: { 'apollo-require-preflight': 'true' } }),
      405,
      'BAD_REQUEST',
    );
  });

  it('a malformed request (operationName not a string, extensions as a string, no query) is 400 BAD_REQUEST', async () => {
    await expectMistake(() => post({ query: '{ __typename }', operationName: 5 }), 400, 'BAD_REQUEST');
    await expectMistake(() => post({ query: '{ __typename }', extensions: '{}' }), 400, 'BAD_REQUEST');
    await expectMistake(() => post({ variables: {} }), 400, 'BAD_REQUEST');
  });

  it('a real fault is still an error-level line with its stack, and INTERNAL_SERVER_ERROR without detail to the client', async () => {
    const from = lines.length;
    const answer = await server.graphql('mutation($u: String!) { signUp(username: $u, password: "password123") { accessToken } }', {
      variables: { u: uniqueUsername('fault') },
    });
    expect(answer.status).toBe(200);
    expect(answer.body.errors[0]).toEqual({ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' }, path: ['signUp'] });
    const errors = lines.slice(from).filter((line) => line.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.err?.stack).toMatch(/hash is broken/);
  });
});
