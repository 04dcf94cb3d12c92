/**
 * Readable logs on a terminal in development, JSON otherwise: the API process with
 * LOG_FORMAT=pretty prints `HH:MM:SS.mmm LEVEL message  key=value` lines, and by default
 * (stdout a pipe, not a terminal) JSON lines.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { formatLogLine } from '../../src/logger.js';
import { loadConfig } from '../../src/config/index.js';
import { requireRedisUrl } from '../helpers/redis-url.js';
import { startApiProcess, type ApiProcess } from './api-process.js';

describe('log format', () => {
  const started: ApiProcess[] = [];
  afterAll(async () => {
    await Promise.all(started.map((api) => api.kill()));
  });

  it('LOG_FORMAT=pretty: readable lines, no JSON; by default on a pipe: JSON lines', async () => {
    const env = { REDIS_URL: requireRedisUrl(), REDIS_KEY_PREFIX: `logf${process.pid}`, METRICS_PORT: '' };
    const [pretty, plain] = await Promise.all([startApiProcess({ ...env, LOG_FORMAT: 'pretty' }), startApiProcess(env)]);
    started.push(pretty, plain);
    const ready = pretty.output.find((line) => line.includes('GraphQL API ready'));
    expect(ready).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  GraphQL API ready at http:\/\/127\.0\.0\.1:\d+\/graphql {2}url=http:\/\/127\.0\.0\.1:\d+\/graphql /);
    expect(pretty.logs()).toEqual([]);
    expect(plain.logs().find((line) => line.msg.startsWith('GraphQL API ready'))).toMatchObject({ level: 30 });
  });

  it('formats one pino line: fields as key=value, objects as JSON, the stack below; a bad LOG_FORMAT is a configuration error', () => {
    const at = new Date(2026, 11, 5, 9, 7, 3, 45).getTime();
    expect(formatLogLine(JSON.stringify({ level: 40, time: at, service: 'graphql-revoke', msg: 'redis connection lost', count: 3, node: '127.0.0.1:6379', detail: { a: 1 }, note: 'two words' })))
      .toBe('09:07:03.045 WARN  redis connection lost  count=3 node=127.0.0.1:6379 detail={"a":1} note="two words"\n');
    expect(formatLogLine(JSON.stringify({ level: 50, time: at, msg: 'boom', err: { message: 'x', stack: 'Error: x\n    at f' } }))).toBe('09:07:03.045 ERROR boom\n    Error: x\n        at f\n');
    expect(() => loadConfig({ LOG_FORMAT: 'fancy' })).toThrow('LOG_FORMAT must be auto, json or pretty, got "fancy"');
  });
});
