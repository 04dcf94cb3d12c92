/**
 * `npx tsx bench/sessions.ts [--users N] [--duration S] [--sessions N]`: sessions, measured.
 *
 * 1. Redis bytes per session (a redis-server of its own, MEMORY USAGE of every key and
 *    used_memory): live sessions just after sign-in, live sessions after a refresh (the
 *    steady state: the generation and the live access tokens), and what an ended session leaves
 *    (its `#s:<sid>` marker until its access tokens expire).
 * 2. A refresh-heavy HTTP run against the built server (`node dist/server/main.js`, run
 *    `npm run build` first): `{ me { id } }` only, a 10% refreshSession mix, refreshSession
 *    only; requests per second, latency per operation, Redis commands per operation.
 *
 * Prints markdown (docs/benchmarks.md "Sessions"). `--memory-only`: part 1 alone.
 */
import { createSecretKey, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createTokenIssuer } from '../src/auth/token-issuer.js';
import { createSessionManager } from '../src/sessions/session-manager.js';
import { RedisSessionStore } from '../src/sessions/redis-session-store.js';
import { graphql } from './lib/http.js';
import { median } from './lib/load.js';
import { processCpuMicros } from './lib/machine.js';
import { commandCalls, commandDelta, info, startBenchRedis, usedMemory } from './lib/redis.js';
import { buildServers, startProjectServer } from './lib/servers.js';

const { values } = parseArgs({
  options: { users: { type: 'string' }, duration: { type: 'string' }, sessions: { type: 'string' }, concurrency: { type: 'string' }, 'memory-only': { type: 'boolean' } },
});
const USERS = Number(values.users ?? 200);
const DURATION_S = Number(values.duration ?? 8);
const SESSIONS = Number(values.sessions ?? 5000);
const CONCURRENCY = Number(values.concurrency ?? 16);
const SECRET = 'bench-secret-not-for-production-0123456789abcdef';
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

async function keyBytes(client: Redis, pattern: string): Promise<{ keys: number; bytes: number }> {
  let cursor = '0';
  let keys = 0;
  let bytes = 0;
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const key of batch) {
      keys += 1;
      bytes += Number(await client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
    }
  } while (cursor !== '0');
  return { keys, bytes };
}

async function memoryPerSession(redisUrl: string): Promise<string[]> {
  const client = new Redis(redisUrl);
  const keyPrefix = `benchsess${process.pid}`;
  const key = createSecretKey(Buffer.from(SECRET, 'utf8'));
  const issuer = createTokenIssuer({ key, issuer: 'graphql-revoke', audience: 'graphql-revoke', ttlSeconds: 900 });
  const store = new RedisSessionStore({ client, keyPrefix });
  // The bench's users have no scopes and are never disabled.
  const manager = createSessionManager({ issuer, store, users: { findById: async () => ({}) }, refreshTokenKey: Buffer.from(SECRET.padEnd(32, '.'), 'utf8') });
  const rows: string[] = [];
  const measure = async (label: string, count: number, note: string) => {
    const { keys, bytes } = await keyBytes(client, `${keyPrefix}:*`);
    const used = await usedMemory(client);
    rows.push(`| ${label} | ${count.toLocaleString('en')} | ${keys.toLocaleString('en')} | ${(bytes / count).toFixed(0)} | ${((used - base) / count).toFixed(0)} | ${note} |`);
  };
  const base = await usedMemory(client);
  for (const perUser of [1, 3]) {
    const users = Array.from({ length: SESSIONS / perUser }, () => ({ id: randomUUID(), username: 'bench_user' }));
    const pairs: { userId: string; refreshToken: string; sid: string }[] = [];
    for (let i = 0; i < users.length; i += 100) {
      const chunk = users.slice(i, i + 100);
      for (let k = 0; k < perUser; k += 1) {
        const made = await Promise.all(chunk.map((u, j) => manager.start(u, { userAgent: UA, ipAddress: `203.0.113.${(i + j) % 250}` })));
        pairs.push(...made.map((p) => ({ userId: p.user.id, refreshToken: p.refreshToken, sid: p.session.id })));
      }
    }
    await measure(`live, ${perUser} per user, just signed in`, pairs.length, 'session record + index entry + the access token in the issued set');
    for (let i = 0; i < pairs.length; i += 100) {
      await Promise.all(pairs.slice(i, i + 100).map((p) => manager.refresh(p.refreshToken, { userAgent: UA, ipAddress: '203.0.113.9' })));
    }
    await measure(`live, ${perUser} per user, after one refresh`, pairs.length, 'steady state: the generation, 2 access tokens');
    for (let i = 0; i < pairs.length; i += 100) await Promise.all(pairs.slice(i, i + 100).map((p) => manager.end(p.userId, p.sid)));
    await measure(`ended (cancelSession), ${perUser} per user`, pairs.length, 'the #s:<sid> marker in the revoked set, until the access tokens expire (15 min + 5 s)');
    // Clean for the next distribution (this Redis is the bench's own).
    await client.flushall();
  }
  client.disconnect();
  return ['| Sessions | Count | Keys | Bytes per session (MEMORY USAGE) | Bytes per session (used_memory) | What is stored |', '|---|---:|---:|---:|---:|---|', ...rows];
}

interface OpStats {
  count: number;
  latencies: number[];
  failures: number;
}

async function refreshRun(url: string, redis: Redis, serverPid: number, refreshShare: number): Promise<string> {
  // Users signed in beforehand; each holds its current pair.
  const users: { access: string; refresh: string }[] = [];
  for (let i = 0; i < USERS; i += 1) {
    const u = `bench_${process.pid}_${i}_${Math.round(refreshShare * 100)}`;
    const answer = await graphql(url, 'mutation($u: String!, $p: String!) { signUp(username: $u, password: $p) { accessToken refreshToken } }', {
      variables: { u, p: 'bench password 123' },
    });
    users.push({ access: answer.data.signUp.accessToken, refresh: answer.data.signUp.refreshToken });
  }
  const stats: Record<'me' | 'refresh', OpStats> = { me: { count: 0, latencies: [], failures: 0 }, refresh: { count: 0, latencies: [], failures: 0 } };
  const commandsBefore = await commandCalls(redis);
  const redisCpuBefore = Number((await info(redis, 'cpu')).get('used_cpu_user')) + Number((await info(redis, 'cpu')).get('used_cpu_sys'));
  const serverCpuBefore = processCpuMicros(serverPid);
  const deadline = performance.now() + DURATION_S * 1000;
  let n = 0;
  const worker = async (w: number) => {
    let k = 0;
    while (performance.now() < deadline) {
      const user = users[(w + k * CONCURRENCY) % USERS]!;
      k += 1;
      // Deterministic mix: every (1 / share)-th operation is a refresh.
      const isRefresh = refreshShare >= 1 || (refreshShare > 0 && (n++ % Math.round(1 / refreshShare)) === 0);
      const started = performance.now();
      if (isRefresh) {
        const answer = await graphql(url, 'mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken refreshToken } }', { variables: { r: user.refresh } });
        stats.refresh.latencies.push(performance.now() - started);
        stats.refresh.count += 1;
        if (answer.data?.refreshSession) {
          user.access = answer.data.refreshSession.accessToken;
          user.refresh = answer.data.refreshSession.refreshToken;
        } else stats.refresh.failures += 1;
      } else {
        const answer = await graphql(url, '{ me { id } }', { token: user.access });
        stats.me.latencies.push(performance.now() - started);
        stats.me.count += 1;
        if (answer.status !== 200 || !answer.data?.me) stats.me.failures += 1;
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
  const elapsed = (performance.now() - started) / 1000;
  const commands = commandDelta(commandsBefore, await commandCalls(redis));
  const redisCpu = Number((await info(redis, 'cpu')).get('used_cpu_user')) + Number((await info(redis, 'cpu')).get('used_cpu_sys')) - redisCpuBefore;
  const serverCpu = processCpuMicros(serverPid) - serverCpuBefore;
  const ops = stats.me.count + stats.refresh.count;
  const perOp = (name: string) => ((commands.get(name) ?? 0) / ops).toFixed(3);
  const p = (values: number[], q: number) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted.length ? (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number).toFixed(2) : '-';
  };
  const label = refreshShare === 0 ? '`me` only' : refreshShare >= 1 ? 'refreshSession only' : `${Math.round(refreshShare * 100)}% refreshSession`;
  return `| ${label} | ${(ops / elapsed).toFixed(0)} | ${stats.me.count ? `${median(stats.me.latencies).toFixed(2)} / ${p(stats.me.latencies, 0.99)}` : '-'} | ${stats.refresh.count ? `${median(stats.refresh.latencies).toFixed(2)} / ${p(stats.refresh.latencies, 0.99)}` : '-'} | ${perOp('zmscore')} | ${perOp('evalsha')} | ${((redisCpu * 1e6) / ops).toFixed(1)} | ${(serverCpu / ops).toFixed(0)} | ${stats.me.failures + stats.refresh.failures} |`;
}

const redisServer = await startBenchRedis();
try {
  console.log('## Redis bytes per session\n');
  console.log((await memoryPerSession(redisServer.url)).join('\n'));

  if (values['memory-only']) process.exit(0);
  buildServers();
  const api = await startProjectServer('api', {
    REDIS_URL: redisServer.url,
    JWT_SECRET: SECRET,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    SIGNIN_MAX_FAILURES_PER_ADDRESS: '1000000',
    SIGNIN_MAX_PER_ADDRESS: '1000000',
    REFRESH_MAX_FAILURES_PER_ADDRESS: '1000000',
  });
  const redis = new Redis(redisServer.url);
  try {
    console.log(`\n## Refresh-heavy run: ${USERS} users, ${CONCURRENCY} requests in flight, ${DURATION_S} s per mix\n`);
    console.log('| Mix | Operations/s | `me` ms p50 / p99 | refreshSession ms p50 / p99 | ZMSCORE per op | EVALSHA per op | Redis CPU µs per op | Server CPU µs per op | Failures |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const share of [0, 0.1, 1]) console.log(await refreshRun(api.url, redis, api.pid, share));
  } finally {
    redis.disconnect();
    await api.stop();
  }
} finally {
  await redisServer.stop();
}
