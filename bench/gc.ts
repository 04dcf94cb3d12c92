/**
 * `npm run bench:gc`: a short side-by-side of what one request costs the server process in
 * CPU, allocation, promotion to the old generation and GC pauses, for plain Apollo and the
 * project (Redis store, embedded store), in alternating rounds. Less moved by other work on
 * a shared machine than throughput: each figure is per request, read from the server itself
 * (/proc for CPU, V8's --trace-gc-nvp lines for GC).
 *
 *   npm run bench:gc -- [--rounds 5] [--duration 3] [--connections 32] [--tokens 1]
 *                       [--targets plain,project,memory] [--query typename|me] [--before DIR]
 *
 * `--before DIR`: another checkout of the project, built (`npm run build` there), run as the
 * target `before` (Redis store) next to this one: before/after figures from the same run.
 *
 * `--tokens N` spreads the requests over N distinct tokens (of one user, signed like the
 * server signs them), e.g. 50,000: past the verification cache's size, every request pays
 * a full verification.
 */
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { gcPerRequest, type GcPerRequest } from './lib/gc-trace.js';
import { graphql } from './lib/http.js';
import { median } from './lib/load.js';
import { processCpuMicros } from './lib/machine.js';
import { startBenchRedis } from './lib/redis.js';
import { buildServers, serverTokenIssuer, startPlainServer, startProjectServer, type ChildServer } from './lib/servers.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    tokens: { type: 'string', default: '1' },
    targets: { type: 'string', default: 'plain,project,memory' },
    query: { type: 'string', default: 'typename' },
    'no-build': { type: 'boolean', default: false },
    before: { type: 'string' },
  },
});
const rounds = Number(args.rounds);
const duration = Number(args.duration);
const connections = Number(args.connections);
const tokenCount = Number(args.tokens);
const targets = (args.targets as string).split(',');
const body = JSON.stringify({ query: args.query === 'me' ? '{ me { id username } }' : '{ __typename }' });
const SECRET = 'bench-secret-not-for-production-0123456789abcdef';

interface Row extends GcPerRequest {
  target: string;
  rps: number;
  p99: number;
  cpuUs: number;
}

async function run(server: ChildServer, tokens: readonly string[]): Promise<Row> {
  let next = 0;
  const cpuBefore = processCpuMicros(server.pid);
  const gcBefore = server.gc();
  const result = await autocannon({
    url: server.url,
    method: 'POST',
    connections,
    duration,
    headers: { 'content-type': 'application/json' },
    body,
    requests: [
      {
        setupRequest(request: { headers?: Record<string, string> }) {
          request.headers = { ...request.headers, authorization: `Bearer ${tokens[next++ % tokens.length]}` };
          return request;
        },
      },
    ],
  });
  // The trace lines of the last collections reach the pipe a moment later.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const requests = result['2xx'] + result.non2xx;
  if (result.non2xx > 0) throw new Error(`${server.name}: ${result.non2xx} answers not 2xx`);
  return {
    target: server.name,
    rps: requests / result.duration,
    p99: result.latency.p99,
    cpuUs: (processCpuMicros(server.pid) - cpuBefore) / requests,
    ...gcPerRequest(gcBefore, server.gc(), requests),
  };
}

async function main(): Promise<void> {
  if (!args['no-build']) buildServers();
  const redis = await startBenchRedis();
  const servers: ChildServer[] = [];
  try {
    const env = { JWT_SECRET: SECRET, LOG_LEVEL: 'warn' };
    for (const target of targets) {
      if (target === 'plain') servers.push(await startPlainServer('plain'));
      else if (target === 'project') servers.push(await startProjectServer('project', { ...env, REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'gcp' }));
      else if (target === 'memory') servers.push(await startProjectServer('memory', env));
      else if (target === 'before') {
        if (!args.before) throw new Error('the target "before" needs --before DIR (a built checkout)');
        servers.push(await startProjectServer('before', { ...env, REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'gcb' }, {}, args.before));
      } else if (target === 'before-memory') {
        if (!args.before) throw new Error('the target "before-memory" needs --before DIR (a built checkout)');
        servers.push(await startProjectServer('before-memory', env, {}, args.before));
      }
      else throw new Error(`unknown target ${target}`);
    }
    // One real user per project server (signUp); N tokens of that user, signed as the server signs.
    const issuer = serverTokenIssuer(env);
    const tokensOf = new Map<string, string[]>();
    for (const server of servers) {
      if (server.name === 'plain') continue;
      const signUp = await graphql(server.url, 'mutation($u: String!, $p: String!) { signUp(username: $u, password: $p) { accessToken user { id } } }', {
        variables: { u: `gc_${server.name}`, p: 'correct horse battery staple' },
      });
      const user = signUp.data?.signUp?.user as { id: string } | undefined;
      const token = signUp.data?.signUp?.accessToken as string | undefined;
      if (!user || !token) throw new Error(`signUp on ${server.name}: ${JSON.stringify(signUp)}`);
      tokensOf.set(
        server.name,
        tokenCount <= 1 ? [token] : Array.from({ length: tokenCount }, () => issuer.issue({ id: user.id, username: `gc_${server.name}` }).token),
      );
    }
    tokensOf.set('plain', tokensOf.values().next().value ?? ['none']);
    for (const server of servers) await run(server, tokensOf.get(server.name) as string[]); // warm-up
    const rows: Row[] = [];
    for (let round = 1; round <= rounds; round += 1) {
      const order = [...servers.slice(round % servers.length), ...servers.slice(0, round % servers.length)];
      for (const server of order) {
        const row = await run(server, tokensOf.get(server.name) as string[]);
        rows.push(row);
        process.stdout.write(
          `round ${round} ${row.target.padEnd(13)} ${Math.round(row.rps).toString().padStart(6)} req/s p99 ${row.p99} ms  cpu ${row.cpuUs.toFixed(1)} µs  ` +
            `gc ${row.pauseUs.toFixed(1)} µs  alloc ${(row.allocatedBytes / 1024).toFixed(2)} KB  promoted ${(row.promotedBytes / 1024).toFixed(3)} KB (${Math.round(row.promotedPerScavenge / 1024)} KB/scavenge)  (${row.collections} GCs)\n`,
        );
      }
    }
    process.stdout.write(`\nmedians over ${rounds} rounds, ${connections} connections, ${tokenCount} token(s), ${args.query}:\n`);
    const plainCpu = median(rows.filter((r) => r.target === 'plain').map((r) => r.cpuUs));
    for (const server of servers) {
      const mine = rows.filter((r) => r.target === server.name);
      const m = (f: (r: Row) => number) => median(mine.map(f));
      process.stdout.write(
        `${server.name.padEnd(13)} ${Math.round(m((r) => r.rps))} req/s  p99 ${m((r) => r.p99)} ms  cpu ${m((r) => r.cpuUs).toFixed(1)} µs/req` +
          (server.name === 'plain' ? '' : ` (${(m((r) => r.cpuUs) / plainCpu).toFixed(2)}x plain)`) +
          `  gc ${m((r) => r.pauseUs).toFixed(1)} µs/req  alloc ${(m((r) => r.allocatedBytes) / 1024).toFixed(2)} KB/req  promoted ${(m((r) => r.promotedBytes) / 1024).toFixed(3)} KB/req (${Math.round(m((r) => r.promotedPerScavenge) / 1024)} KB/scavenge)\n`,
      );
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await redis.stop();
  }
}

await main();
process.exit(0);
