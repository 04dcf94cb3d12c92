/**
 * `npm run bench`: the project next to a plain Apollo Server, in one run.
 *
 * Starts its own redis-server (free loopback port, no persistence) and its servers as
 * child processes, drives them with autocannon from this process, alternating servers in
 * every round, then runs the micro-benchmarks (JWT, the Redis hop), the Redis memory
 * measurement and cancelAllMyTokens on 10,000 live tokens. Writes RESULTS.md, results.svg
 * and results.json.
 *
 *   npm run bench                     full run (~16 min): writes bench/RESULTS.md, results.svg, results.json
 *   npm run bench -- --smoke          seconds: same steps, tiny sizes, writes to a temp dir (or --out)
 *   options: --out DIR, --rounds N, --duration S, --connections N, --pin (servers on CPU 1,
 *            load generator and Redis on CPU 0)
 *
 * Exits non-zero if a step fails or a correctness check does (a request refused that
 * should pass, more than one Redis command per request, a key without a TTL, a wrong
 * cancelAll count). Speed targets are reported, never asserted: the machine is shared.
 */
import { mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { cancelAllHttp, cancelAllStore, type CancelAllResult } from './lib/cancel-all.js';
import { renderChart } from './lib/chart.js';
import { graphql } from './lib/http.js';
import { median, runLoad, type LoadResult } from './lib/load.js';
import { oauthBench } from './lib/oauth.js';
import { describeMachine, gitRevision, pinProcess, processCpuMicros, systemCpuMicros, waitForQuiet, type Machine } from './lib/machine.js';
import { measureMemory, ONE_PER_USER, ONE_USER, REALISTIC, type MemoryResult } from './lib/memory.js';
import { jwtMicro, storeMicro, type MicroResult } from './lib/micro.js';
import { commandCalls, commandDelta, info, startBenchRedis } from './lib/redis.js';
import { renderReport, summarize } from './lib/report.js';
import { buildServers, ROOT, serverTokenIssuer, startPeerServer, startPlainServer, startProjectServer, type ChildServer } from './lib/servers.js';
import { gcPerRequest } from './lib/gc-trace.js';

/** Commands the API sends on timers, not per request (src/safeguards/data-loss-watcher.ts, clock-skew.ts). */
const BACKGROUND_COMMANDS = new Set(['hmget', 'time']);

// ---------------------------------------------------------------- options

const { values: args } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: process.env.BENCH_SMOKE === '1' },
    out: { type: 'string' },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string' },
    pin: { type: 'boolean', default: false },
  },
});
const smoke = args.smoke === true;
const settings = {
  smoke,
  // Many short rounds rather than a few long ones: on a shared machine noise comes in
  // bursts of seconds, and a burst then spoils one round's ratio, not the median.
  rounds: Number(args.rounds ?? (smoke ? 1 : 24)),
  durationSec: Number(args.duration ?? 1),
  warmupSec: smoke ? 0 : 2,
  connections: Number(args.connections ?? 10),
  pin: args.pin === true,
  memoryTokens: smoke ? 5_000 : 100_000,
  cancelAllTokens: 10_000,
  cancelAllRepetitions: smoke ? 1 : 5,
  /** Requests of the exact Redis-commands count (autocannon `amount`: none left in flight). */
  exactCountRequests: smoke ? 1000 : 20_000,
  /** Total seconds the bench may wait for a quiet machine before runs. */
  quietGateBudgetSec: smoke ? 0 : 60,
  /** Seconds the bench waits at most, before one run, for the machine to be quiet. */
  quietMaxWaitSec: 4,
  /**
   * Below this share of all CPUs busy with other processes, the machine counts as quiet
   * (before a run); a round is "quiet" when other processes stayed below it in each of its runs.
   */
  quietShare: 0.15,
  /** The opt-in "not revoked" window of the cached variant. */
  cacheTtlMs: 1000,
  /** Distinct tokens of the "many tokens" shapes: past the verification cache's 10,000. */
  distinctTokens: smoke ? 500 : 50_000,
};
for (const [name, value] of Object.entries({ rounds: settings.rounds, duration: settings.durationSec, connections: settings.connections })) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got ${value}`);
}
const outDir = args.out ?? (smoke ? mkdtempSync(join(os.tmpdir(), 'graphql-revoke-bench-')) : join(ROOT, 'bench'));
mkdirSync(outDir, { recursive: true });

const JWT_SECRET = 'bench-secret-not-for-production-0123456789abcdef';
const started = Date.now();
const log = (message: string) => process.stdout.write(`[bench +${((Date.now() - started) / 1000).toFixed(0)}s] ${message}\n`);
const failures: string[] = [];
function check(ok: boolean, message: string): void {
  if (!ok) {
    failures.push(message);
    log(`CHECK FAILED: ${message}`);
  }
}

// ---------------------------------------------------------------- types of the results

/** A server under load. */
export interface Target {
  id: 'plain' | 'peer' | 'project' | 'memory' | 'cached' | 'unverified';
  label: string;
}

/** A query shape and the servers it runs against. */
export interface ShapeSpec {
  id: 'typename' | 'me' | 'revoked' | 'typenameControl' | 'typenameMany' | 'meMany';
  label: string;
  body: string;
  targets: Target['id'][];
  /** The status every request must get. */
  status: number;
  /**
   * How requests get their token when not all from the run's fixed header. 'many':
   * `settings.distinctTokens` tokens (of one user) in turn. 'onePerRequest': the one token,
   * set on each request by autocannon's per-request setup as the 'many' shapes set theirs: the
   * control that separates what the load generator's mode changes (the same bytes on the wire,
   * a busier generator) from what distinct tokens cost.
   */
  tokens?: 'many' | 'onePerRequest';
}

/** One autocannon run. */
export interface RunRecord extends LoadResult {
  round: number;
  /** Position in the round's sequence for this shape. */
  seq: number;
  /** Throughput over the mean of the plain runs just before and after (not for plain). */
  ratio?: number;
  /** Plain's server CPU per request (mean of those two runs) over this run's. */
  cpuRatio?: number;
  shape: ShapeSpec['id'];
  target: Target['id'];
  /** Server process CPU (user + system) per request, µs. */
  serverCpuUs: number;
  /** Redis commands per request (INFO commandstats delta / requests). */
  redisCommandsPerRequest: number;
  redisCommands: Record<string, number>;
  /** Redis server CPU per request, µs. */
  redisCpuUs: number;
  /** Share of the machine's CPU that other processes used during the run (0..1). */
  foreignCpuShare: number;
  /** Server GC pause per request, µs (V8's --trace-gc-nvp, bench/lib/gc-trace.ts). */
  gcPauseUs: number;
  /** Bytes the server allocated per request. */
  allocatedBytes: number;
  /** Bytes per request promoted to the old generation by young-generation collections. */
  promotedBytes: number;
}

/** Redis commands over a fixed number of requests. */
export interface ExactCount {
  shape: ShapeSpec['id'];
  requests: number;
  commands: Record<string, number>;
  perRequest: number;
}

export interface BenchResults {
  date: string;
  revision: string;
  elapsedSec: number;
  settings: typeof settings;
  machine: Machine;
  loadAverageEnd: number[];
  targets: Target[];
  shapes: ShapeSpec[];
  runs: RunRecord[];
  exactCommands: ExactCount[];
  jwt: MicroResult[];
  store: MicroResult[];
  /** Whether the production Redis client (createRedisClient) auto-pipelines. */
  redisAutoPipelining: boolean;
  memory: MemoryResult[];
  cancelAll: { store: CancelAllResult; http: CancelAllResult };
  failures: string[];
}

const TARGETS: Target[] = [
  { id: 'plain', label: 'plain Apollo Server 5, no auth' },
  { id: 'project', label: 'project, Redis (default: every request checks Redis)' },
  { id: 'peer', label: 'peer: Apollo + jsonwebtoken + Redis EXISTS per request, by hand (bench/peer-server.ts)' },
  { id: 'memory', label: 'project, embedded store (REDIS_URL unset)' },
  { id: 'cached', label: `project, Redis + REVOCATION_CACHE_TTL_MS=${settings.cacheTtlMs}` },
  { id: 'unverified', label: 'project, Redis, JWT_VERIFY_CACHE_SIZE=0 (the signature checked on every request)' },
];
const TYPENAME = JSON.stringify({ query: '{ __typename }' });
const ME = JSON.stringify({ query: '{ me { id username } }' });
const SHAPES: ShapeSpec[] = [
  { id: 'typename', label: '{ __typename } with a token', body: TYPENAME, targets: ['plain', 'project', 'peer', 'memory', 'cached', 'unverified'], status: 200 },
  { id: 'me', label: '{ me { id username } }', body: ME, targets: ['plain', 'project', 'peer', 'memory'], status: 200 },
  { id: 'revoked', label: '{ __typename } with a revoked token (401)', body: TYPENAME, targets: ['project'], status: 401 },
  {
    id: 'typenameControl',
    label: '{ __typename }, one token set per request as the distinct-token shapes set theirs (control)',
    body: TYPENAME,
    targets: ['plain', 'project'],
    status: 200,
    tokens: 'onePerRequest',
  },
  {
    id: 'typenameMany',
    label: `{ __typename }, ${settings.distinctTokens.toLocaleString('en-US')} distinct tokens`,
    body: TYPENAME,
    targets: ['plain', 'project', 'peer'],
    status: 200,
    tokens: 'many',
  },
  {
    id: 'meMany',
    label: `{ me { id username } }, ${settings.distinctTokens.toLocaleString('en-US')} distinct tokens`,
    body: ME,
    targets: ['plain', 'project', 'peer'],
    status: 200,
    tokens: 'many',
  },
];

// ---------------------------------------------------------------- the run

async function redisCpuMicros(client: Redis): Promise<number> {
  const cpu = await info(client, 'cpu');
  return (Number(cpu.get('used_cpu_user')) + Number(cpu.get('used_cpu_sys'))) * 1e6;
}

async function main(): Promise<void> {
  const machine = describeMachine();
  log(`${smoke ? 'SMOKE run' : 'full run'}: ${machine.cpus} CPUs (${machine.cpuModel}), Node ${machine.node}, Redis ${machine.redis}; load average ${machine.loadAverage.join(' ')}`);
  log(`results go to ${outDir}`);
  if (settings.pin && !pinProcess(process.pid, '0')) throw new Error('--pin needs taskset (util-linux)');

  const redis = await startBenchRedis();
  if (settings.pin) pinProcess(redis.pid, '0');
  const monitor = new Redis(redis.url, { maxRetriesPerRequest: 0 });
  const servers = new Map<Target['id'], ChildServer>();
  const placement = { cpus: settings.pin ? '1' : undefined };
  const projectEnv = { JWT_SECRET, LOG_LEVEL: 'warn' };
  try {
    log('compiling the servers (tsc): both run as JavaScript, as in production');
    buildServers();
    log(`redis-server ${redis.url} (pid ${redis.pid}); starting the servers`);
    const [plain, peer, project, memory, cached, unverified] = await Promise.all([
      startPlainServer('plain', placement),
      startPeerServer('peer', { REDIS_URL: redis.url, JWT_SECRET }, placement),
      startProjectServer('project', { ...projectEnv, REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'benchp' }, placement),
      startProjectServer('memory', projectEnv, placement),
      startProjectServer(
        'cached',
        { ...projectEnv, REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'benchc', REVOCATION_CACHE_TTL_MS: String(settings.cacheTtlMs) },
        placement,
      ),
      startProjectServer('unverified', { ...projectEnv, REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'benchu', JWT_VERIFY_CACHE_SIZE: '0' }, placement),
    ]);
    servers.set('plain', plain).set('peer', peer).set('project', project).set('memory', memory).set('cached', cached).set('unverified', unverified);

    // Real tokens, through the API: signUp on each project server; a revoked one on `project`.
    const tokens = new Map<Target['id'], string>();
    let revokedToken = '';
    let manyTokens: string[] = [];
    for (const id of ['project', 'memory', 'cached', 'unverified'] as const) {
      const server = servers.get(id) as ChildServer;
      const username = `bench_${id}`;
      const password = 'correct horse battery staple';
      const signUp = await graphql(server.url, 'mutation($u: String!, $p: String!) { signUp(username: $u, password: $p) { accessToken user { id } } }', {
        variables: { u: username, p: password },
      });
      const token = signUp.data?.signUp?.accessToken as string | undefined;
      if (!token) throw new Error(`signUp on ${id} failed: ${JSON.stringify(signUp)}`);
      tokens.set(id, token);
      if (id === 'project') {
        // Distinct tokens of the same user, signed as the server signs them (same secret,
        // issuer, audience, header with its kid): each a first verification until the cache
        // holds it; with 50,000 the 10,000-entry cache holds at most one in 5 (CLOCK, TinyLFU admission).
        const issuer = serverTokenIssuer(projectEnv);
        const user = { id: signUp.data?.signUp?.user?.id as string, username };
        manyTokens = Array.from({ length: settings.distinctTokens }, () => issuer.issue(user).token);
        const signIn = await graphql(server.url, 'mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { accessToken } }', {
          variables: { u: username, p: password },
        });
        revokedToken = signIn.data?.signIn?.accessToken as string;
        const cancel = await graphql(server.url, 'mutation { cancelToken }', { token: revokedToken });
        check(cancel.data?.cancelToken === true, `cancelToken: ${JSON.stringify(cancel)}`);
      }
    }
    // Plain gets the same header (it ignores it): the same bytes on the wire.
    tokens.set('plain', tokens.get('project') as string);
    // The peer checks the same secret, issuer and audience: the project's tokens are valid there.
    tokens.set('peer', tokens.get('project') as string);
    const tokenFor = (shape: ShapeSpec, target: Target['id']) => (shape.id === 'revoked' ? revokedToken : (tokens.get(target) as string));
    const tokensFor = (shape: ShapeSpec, target: Target['id']) =>
      shape.tokens === 'many' ? { tokens: manyTokens } : shape.tokens === 'onePerRequest' ? { tokens: [tokenFor(shape, target)] } : {};

    // Each server answers each shape as it should before any load.
    for (const shape of SHAPES) {
      for (const target of shape.targets) {
        const server = servers.get(target) as ChildServer;
        const response = await fetch(server.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${tokenFor(shape, target)}` },
          body: shape.body,
        });
        const body = (await response.json()) as { data?: { __typename?: string; me?: { username?: string } }; errors?: { extensions?: { reason?: string } }[] };
        const ok =
          response.status === shape.status &&
          (shape.status !== 200
            ? body.errors?.[0]?.extensions?.reason === 'TOKEN_REVOKED'
            : shape.body === TYPENAME
              ? body.data?.__typename === 'Query'
              : typeof body.data?.me?.username === 'string');
        check(ok, `${target} answered ${shape.id} with ${response.status} ${JSON.stringify(body)}`);
      }
    }

    // Warm-up (JIT, connection pools): not recorded.
    if (settings.warmupSec > 0) log(`warm-up: ${settings.warmupSec} s per server and shape`);
    for (const shape of settings.warmupSec > 0 ? SHAPES : []) {
      for (const target of shape.targets) {
        const server = servers.get(target) as ChildServer;
        await runLoad(server.url, {
          body: shape.body,
          headers: { authorization: `Bearer ${tokenFor(shape, target)}` },
          connections: settings.connections,
          durationSec: settings.warmupSec,
          ...tokensFor(shape, target),
        });
      }
    }

    // Rounds. For a shape with a plain baseline, every other server runs between two plain
    // runs (plain, A, plain, B, plain, ...; the order of A, B, ... rotated each round) and is
    // compared with the mean of the two: this machine's speed drifts within seconds, and a
    // bracketing baseline cancels most of the drift. Before each run, wait (within a budget)
    // for other processes' bursts to pass.
    const runs: RunRecord[] = [];
    let gateBudgetMs = settings.quietGateBudgetSec * 1000;
    const orderOf = (shape: ShapeSpec, round: number): Target['id'][] => {
      const others = shape.targets.filter((t) => t !== 'plain');
      const rotated = others.map((_, i) => others[(i + round - 1) % others.length] as Target['id']);
      if (!shape.targets.includes('plain')) return rotated;
      return ['plain', ...rotated.flatMap((t) => [t, 'plain' as const])];
    };
    const ownPids = [...[...servers.values()].map((s) => s.pid), redis.pid, process.pid];
    for (let round = 1; round <= settings.rounds; round += 1) {
      for (const shape of SHAPES) {
        const roundRuns: RunRecord[] = [];
        for (const target of orderOf(shape, round)) {
          const server = servers.get(target) as ChildServer;
          if (gateBudgetMs > 0) {
            gateBudgetMs -= await waitForQuiet(settings.quietShare, Math.min(settings.quietMaxWaitSec * 1000, gateBudgetMs), ownPids);
          }
          const commandsBefore = await commandCalls(monitor);
          const redisCpuBefore = await redisCpuMicros(monitor);
          const cpuBefore = processCpuMicros(server.pid);
          const ownBefore = cpuBefore + processCpuMicros(redis.pid) + processCpuMicros(process.pid);
          const systemBefore = systemCpuMicros();
          const gcBefore = server.gc();
          const result = await runLoad(server.url, {
            body: shape.body,
            headers: { authorization: `Bearer ${tokenFor(shape, target)}` },
            connections: settings.connections,
            durationSec: settings.durationSec,
            ...tokensFor(shape, target),
          });
          const cpuAfter = processCpuMicros(server.pid);
          const cpu = cpuAfter - cpuBefore;
          const systemAfter = systemCpuMicros();
          const own = cpuAfter + processCpuMicros(redis.pid) + processCpuMicros(process.pid) - ownBefore;
          // CPU that other processes took during the run, as a share of the whole machine.
          const foreignCpuShare = Math.max(0, (systemAfter.busy - systemBefore.busy - own) / Math.max(1, systemAfter.total - systemBefore.total));
          const redisCpu = (await redisCpuMicros(monitor)) - redisCpuBefore;
          const commands = commandDelta(commandsBefore, await commandCalls(monitor));
          const commandTotal = [...commands.values()].reduce((a, b) => a + b, 0);
          // The trace lines of the run's last collections: on the pipe by now (the INFO round trips above took longer).
          const gc = gcPerRequest(gcBefore, server.gc(), result.requests);
          const record: RunRecord = {
            ...result,
            round,
            seq: roundRuns.length,
            shape: shape.id,
            target,
            serverCpuUs: cpu / Math.max(1, result.requests),
            redisCommandsPerRequest: commandTotal / Math.max(1, result.requests),
            redisCommands: Object.fromEntries(commands),
            redisCpuUs: redisCpu / Math.max(1, result.requests),
            foreignCpuShare,
            gcPauseUs: gc.pauseUs,
            allocatedBytes: gc.allocatedBytes,
            promotedBytes: gc.promotedBytes,
          };
          roundRuns.push(record);
          runs.push(record);
          check(result.requests > 0, `${target}/${shape.id} round ${round}: no request completed`);
          check(result.errors === 0, `${target}/${shape.id} round ${round}: ${result.errors} errors/timeouts`);
          const wrong = shape.status === 200 ? result.non2xx : result.requests - result.non2xx;
          check(wrong === 0, `${target}/${shape.id} round ${round}: ${wrong} requests did not get ${shape.status}`);
        }
        // Each server against the mean of the plain runs just before and after it.
        for (const [i, record] of roundRuns.entries()) {
          const before = roundRuns[i - 1];
          const after = roundRuns[i + 1];
          if (record.target !== 'plain' && before?.target === 'plain' && after?.target === 'plain') {
            record.ratio = record.rps / ((before.rps + after.rps) / 2);
            record.cpuRatio = (before.serverCpuUs + after.serverCpuUs) / 2 / record.serverCpuUs;
          }
          log(
            `round ${round} ${shape.id.padEnd(8)} ${record.target.padEnd(10)} ${Math.round(record.rps).toString().padStart(6)} req/s  p50 ${record.p50} ms  p99 ${record.p99} ms  ` +
              `cpu ${record.serverCpuUs.toFixed(0)} µs/req  gc ${record.gcPauseUs.toFixed(1)} µs/req  alloc ${(record.allocatedBytes / 1024).toFixed(1)} KB/req  ` +
              `promoted ${(record.promotedBytes / 1024).toFixed(2)} KB/req  redis ${record.redisCommandsPerRequest.toFixed(3)} cmd/req  others ${Math.round(record.foreignCpuShare * 100)}%` +
              (record.ratio === undefined ? '' : `  ratio ${record.ratio.toFixed(2)}`),
          );
        }
      }
    }
    log(`waited ${((settings.quietGateBudgetSec * 1000 - gateBudgetMs) / 1000).toFixed(0)} s in all for other processes to calm down`);
    for (const shape of SHAPES.filter((s) => s.targets.includes('plain'))) {
      const parts = shape.targets.map((target) => {
        const mine = runs.filter((r) => r.shape === shape.id && r.target === target);
        const ratios = mine.flatMap((r) => (r.ratio === undefined ? [] : [r.ratio]));
        const head = `${target} ${Math.round(median(mine.map((r) => r.rps)))} req/s p50 ${median(mine.map((r) => r.p50))} p99 ${median(mine.map((r) => r.p99))} ms`;
        return target === 'plain' ? head : `${head} ratio ${median(ratios).toFixed(2)}`;
      });
      log(`median ${shape.id}: ${parts.join(' | ')}`);
    }

    // Redis commands per request, exactly: a fixed number of requests, all answered.
    const exactCommands: ExactCount[] = [];
    for (const shape of SHAPES.filter((s) => s.id !== 'revoked')) {
      const before = await commandCalls(monitor);
      const result = await runLoad(project.url, {
        body: shape.body,
        headers: { authorization: `Bearer ${tokenFor(shape, 'project')}` },
        connections: settings.connections,
        durationSec: 0,
        amount: settings.exactCountRequests,
        ...tokensFor(shape, 'project'),
      });
      const commands = commandDelta(before, await commandCalls(monitor));
      // The data-loss watcher (HMGET of the shard marker, once a second) and the clock-skew
      // monitor (TIME, every 10 s) run off the request path: counted apart, not per request.
      const background = new Map([...commands].filter(([name]) => BACKGROUND_COMMANDS.has(name)));
      for (const name of background.keys()) commands.delete(name);
      if (background.size > 0) log(`  background (not per request): ${JSON.stringify(Object.fromEntries(background))}`);
      const total = [...commands.values()].reduce((a, b) => a + b, 0);
      exactCommands.push({ shape: shape.id, requests: result.requests, commands: Object.fromEntries(commands), perRequest: total / result.requests });
      log(`exact count, ${shape.id}: ${total} Redis commands for ${result.requests} requests (${JSON.stringify(Object.fromEntries(commands))})`);
      check(result.requests === settings.exactCountRequests && result.non2xx === 0, `exact count ${shape.id}: ${result.requests} requests, ${result.non2xx} not 2xx`);
      check(total <= result.requests, `${shape.id}: ${total} Redis commands for ${result.requests} authenticated requests (more than 1 each)`);
    }

    log('micro-benchmarks: JWT verification');
    const jwt = await jwtMicro({ secret: JWT_SECRET, smoke });
    for (const r of jwt) log(`  ${r.name}: ${r.usPerOp.toFixed(2)} µs/token`);
    log('micro-benchmarks: the revocation check through each store');
    const { checks: store, autoPipelining } = await storeMicro({ redisUrl: redis.url, smoke });
    for (const r of store) log(`  ${r.name}: ${r.usPerOp.toFixed(2)} µs/check`);

    log('token introspection (POST /oauth/introspect) against a GraphQL request\'s auth, same server, Redis and token');
    const introspection = await oauthBench({
      redisUrl: redis.url,
      monitor,
      env: projectEnv,
      placement,
      connections: 10,
      durationSec: smoke ? 1 : 10,
      exactRequests: smoke ? 500 : 10_000,
    });
    for (const [name, r] of [['introspect', introspection.introspect], ['graphql me', introspection.graphqlMe], ['graphql __typename', introspection.graphqlTypename]] as const) {
      log(`  ${name}: ${Math.round(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms (${r.non2xx} not 2xx)`);
    }
    log(`  Redis commands per introspection: ${introspection.commandsPerIntrospection.toFixed(3)} over ${introspection.exactRequests} requests`);
    check(introspection.commandsPerIntrospection <= 1, `introspection: ${introspection.commandsPerIntrospection} Redis commands per request (more than 1)`);
    check(introspection.introspect.non2xx === 0, `introspection: ${introspection.introspect.non2xx} answers not 2xx`);
    writeFileSync(join(outDir, 'oauth-results.json'), `${JSON.stringify({ machine, smoke, ...introspection }, null, 2)}\n`);

    log(`cancelAllMyTokens with ${settings.cancelAllTokens} live tokens`);
    const cancelStore = await cancelAllStore({ redisUrl: redis.url, liveTokens: settings.cancelAllTokens, repetitions: settings.cancelAllRepetitions });
    log(`  store call: ${cancelStore.ms.toFixed(1)} ms (median of ${cancelStore.runs.length})`);
    const cancelHttp = await cancelAllHttp({
      url: project.url,
      redisUrl: redis.url,
      keyPrefix: 'benchp',
      liveTokens: settings.cancelAllTokens,
      repetitions: settings.cancelAllRepetitions,
    });
    log(`  HTTP mutation: ${cancelHttp.ms.toFixed(1)} ms (median of ${cancelHttp.runs.length})`);

    await Promise.all([...servers.values()].map((s) => s.stop()));
    servers.clear();

    log(`Redis memory: ${settings.memoryTokens} revocations per distribution, each on a fresh redis-server`);
    const memoryResults: MemoryResult[] = [];
    for (const [distribution, operation] of [
      [REALISTIC, 'revoke'],
      [ONE_PER_USER, 'revoke'],
      [ONE_USER, 'revoke'],
      [REALISTIC, 'recordIssued'],
    ] as const) {
      const result = await measureMemory(distribution, settings.memoryTokens, operation);
      memoryResults.push(result);
      log(`  ${operation} ${distribution.id}: ${result.bytesPerToken.toFixed(1)} B/token over ${result.users} users (${result.keys} keys, ${JSON.stringify(result.encodings)})`);
      check(result.keysWithoutTtl === 0, `${distribution.id}: ${result.keysWithoutTtl} keys without a TTL`);
    }

    const results: BenchResults = {
      date: new Date().toISOString(),
      revision: gitRevision(ROOT),
      elapsedSec: Math.round((Date.now() - started) / 1000),
      settings,
      machine,
      loadAverageEnd: os.loadavg().map((l) => Math.round(l * 100) / 100),
      targets: TARGETS,
      shapes: SHAPES,
      runs,
      exactCommands,
      jwt,
      store,
      redisAutoPipelining: autoPipelining,
      memory: memoryResults,
      cancelAll: { store: cancelStore, http: cancelHttp },
      failures,
    };
    writeOutputs(results);
  } finally {
    monitor.disconnect();
    await Promise.all([...servers.values()].map((s) => s.stop()));
    await redis.stop();
  }
}

function writeOutputs(results: BenchResults): void {
  const summary = (shape: ShapeSpec['id'], target: Target['id']) => summarize(results, shape, target);
  const series = TARGETS.map((t) => t.id);
  const groups = (['typename', 'me'] as const).map((shape) => ({ shape, label: SHAPES.find((s) => s.id === shape)?.label ?? shape }));
  const svg = renderChart({
    title: 'graphql-revoke vs plain Apollo Server 5 (median of rounds)',
    subtitle: `${results.machine.cpus} CPUs, ${results.settings.connections} connections, ${results.settings.rounds} rounds x ${results.settings.durationSec} s; ratio to plain under the bars`,
    series: TARGETS.map((t) => t.label),
    panels: [
      {
        title: 'Throughput (req/s, higher is better)',
        unit: 'req/s',
        groups: groups.map(({ shape, label }) => ({
          label,
          values: series.map((t) => summary(shape, t)?.rps),
          notes: series.map((t) => {
            const ratio = summary(shape, t)?.ratio;
            return ratio === undefined ? undefined : `${ratio.toFixed(2)}x`;
          }),
        })),
      },
      {
        title: 'p99 latency (ms, lower is better)',
        unit: 'ms',
        groups: groups.map(({ shape, label }) => ({ label, values: series.map((t) => summary(shape, t)?.p99) })),
      },
    ],
  });
  const svgPath = join(outDir, 'results.svg');
  writeFileSync(svgPath, svg);
  writeFileSync(join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  const reportPath = join(outDir, 'RESULTS.md');
  writeFileSync(reportPath, renderReport(results, { chartFile: 'results.svg' }));
  for (const path of [reportPath, svgPath, join(outDir, 'results.json')]) check(statSync(path).size > 0, `${path} is empty`);
  log(`wrote ${[reportPath, svgPath, join(outDir, 'results.json')].map((p) => relative(process.cwd(), p) || p).join(', ')}`);
}

try {
  await main();
} catch (error) {
  failures.push(error instanceof Error ? error.message : String(error));
  process.stderr.write(`[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
}
if (failures.length > 0) {
  process.stderr.write(`[bench] ${failures.length} check(s) failed:\n${failures.map((f) => `  - ${f}`).join('\n')}\n`);
  process.exit(1);
}
log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
process.exit(0);
