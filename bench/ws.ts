/**
 * `npm run bench:ws`: live sockets at scale, against the built API (`node dist/server/main.js`)
 * as five processes on one bench Redis: M (memory, inspected), A (load, with the sockets), B
 * (fan-out), C (load, the control) and D (load, with as much inert heap as the sockets hold).
 *
 * 1. Memory per idle authenticated socket: V8 heap after a forced GC (inspector protocol) and
 *    RSS (its /metrics) of instance M at 0, N/2 and N authenticated sockets (default N = 10,000).
 *    Then each socket starts 20 `sessionEvents` subscriptions (memory per socket with them),
 *    and E session events (default 1,000) are published on the live channel for the sockets'
 *    users, each delivered to that user's 20 subscriptions: memory after them (no growth).
 * 2. HTTP throughput with the N sockets open on A (moved there from M), idle (`idleSockets`),
 *    then each with its 20 subscriptions: `{ me { id } }` with a token under autocannon on A,
 *    alternated with C (the same server, no socket) so that other work on the machine slows
 *    both alike; the ratio A/C, and the same ratio with no socket on A (calibration). A is
 *    never inspected: the memory step's forced garbage collections over the inspector left the
 *    instance they ran on ~40 % slower per request for the rest of its life (measured when that
 *    instance was also the one under load: A/C 0.80, and 0.99 with the inspector calls
 *    skipped), which no production instance is. D is measured in the same alternation as A and
 *    C, before and after it is given as many bytes of inert heap (bench/lib/ballast.mjs) as the
 *    N sockets hold on M: what the heap alone costs an instance, against what the sockets cost.
 * 3. Fan-out delay with N sockets across two instances (half on each): R tokens are revoked
 *    through the other instance's HTTP API (cancelToken); for each, from the HTTP answer to
 *    the client seeing close 4403 (client-side), and the servers' own histogram
 *    (event published → socket closed), both as p50/p99.
 *
 * The sockets are raw `ws` clients speaking graphql-transport-ws (connection_init with the
 * token, wait for connection_ack): the protocol the graphql-ws client speaks, without a
 * client object per socket in the bench process. Options: --sockets N, --revocations R,
 * --seconds S (each throughput run, default 3), --rounds K (alternations, default 8),
 * --events E, --memory-only (step 1 alone: no throughput, no fan-out), --heap-census (with
 * step 1: heap snapshots with subscriptions, after the E events and after E more; the largest
 * differences by constructor, to tell growth per socket from once-per-process first use).
 */
import { spawnSync } from 'node:child_process';
import { createSecretKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { Redis } from 'ioredis';
import { createTokenIssuer, type IssuedToken } from '../src/auth/token-issuer.js';
import { encodeLiveEvent, liveChannel } from '../src/live/revocation-events.js';
import { graphql } from './lib/http.js';
import { median, runLoad, type LoadResult } from './lib/load.js';
import { startBenchRedis } from './lib/redis.js';
import { ROOT, startProjectServer, type ChildServer } from './lib/servers.js';
import { getFreePort } from '../test/helpers/free-port.js';

const SECRET = 'bench-live-secret-0123456789-abcdefghijkl';

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : Number(process.argv[index + 1]);
}

/** The soft limit on open files of this process (children inherit it). */
function openFileLimit(): number {
  const result = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' });
  const value = result.stdout.trim();
  return value === 'unlimited' ? Infinity : Number(value);
}

interface Socket {
  ws: WebSocket;
  token: IssuedToken;
  closed: Promise<{ code: number; reason: string; at: number }>;
}

/** `next` messages received by every socket of the bench (subscription results). */
let nextReceived = 0;
/** Sockets whose probe query (sent after their subscribes) has been answered: see `subscribeAll`. */
let probesAnswered = 0;
const PROBE_ID = 'held';
/** Subscribes answered with an error, by its code: a subscription the bench counts on but the server refused. */
const refusedByCode: Record<string, number> = {};

function connect(url: string, token: IssuedToken): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'graphql-transport-ws', { perMessageDeflate: false });
    let resolveClosed!: (value: { code: number; reason: string; at: number }) => void;
    const closed = new Promise<{ code: number; reason: string; at: number }>((r) => (resolveClosed = r));
    ws.on('close', (code, reason) => resolveClosed({ code, reason: String(reason), at: performance.now() }));
    ws.on('error', reject);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token.token}` } })));
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; id?: string; payload?: unknown };
      if (message.type === 'connection_ack') resolve({ ws, token, closed });
      else if (message.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
      else if (message.id === PROBE_ID) {
        if (message.type === 'complete' || message.type === 'error') probesAnswered += 1;
      } else if (message.type === 'next') nextReceived += 1;
      else if (message.type === 'complete') refusedByCode.completedByServer = (refusedByCode.completedByServer ?? 0) + 1;
      else if (message.type === 'error') {
        const code = String((message.payload as Array<{ extensions?: { code?: string } }> | undefined)?.[0]?.extensions?.code ?? 'none');
        refusedByCode[code] = (refusedByCode[code] ?? 0) + 1;
      }
    });
    closed.then(({ code, reason }) => reject(new Error(`closed with ${code} (${reason}) before connection_ack`)));
  });
}

/** Sockets told 1013 (try again later) while connecting, and retried as a client would. */
let retried = 0;

async function connectRetrying(url: string, token: IssuedToken): Promise<Socket> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await connect(url, token);
    } catch (error) {
      if (attempt >= 5 || !/closed with 1013/.test((error as Error).message)) throw error;
      retried += 1;
      await sleep(200 * attempt);
    }
  }
}

async function connectMany(url: string, tokens: IssuedToken[], concurrency = 100): Promise<Socket[]> {
  const sockets: Socket[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < tokens.length) {
        const token = tokens[next++] as IssuedToken;
        sockets.push(await connectRetrying(url, token));
      }
    }),
  );
  return sockets;
}

/** Subscriptions each socket holds in the bench. */
const SUBSCRIPTIONS = 20;

/**
 * SUBSCRIPTIONS `sessionEvents` subscriptions on every socket, each socket's followed by a query:
 * the server answers it after the subscribes before it (their store lookups are answered first,
 * or by the same shared command), so its answer says this socket's subscriptions are held. A
 * fixed wait did not: at 10,000 sockets events published meanwhile reached no one. Closed loop,
 * 200 sockets at a time, as clients reconnecting with back-off would: sent open loop (~80,000
 * subscribes/s) the server failed closed on most (AUTH_UNAVAILABLE), and the memory figures
 * counted sockets without their subscriptions.
 */
async function subscribeAll(sockets: Socket[]): Promise<void> {
  const base = probesAnswered;
  for (const [index, socket] of sockets.entries()) {
    for (let i = 0; i < SUBSCRIPTIONS; i += 1) {
      socket.ws.send(JSON.stringify({ id: `s${i}`, type: 'subscribe', payload: { query: 'subscription { sessionEvents { kind session { id createdAt current } } }' } }));
    }
    socket.ws.send(JSON.stringify({ id: PROBE_ID, type: 'subscribe', payload: { query: '{ __typename }' } }));
    if (index % 200 === 199 || index === sockets.length - 1) {
      for (const deadline = Date.now() + 60_000; probesAnswered - base <= index && Date.now() < deadline; ) await sleep(5);
      if (probesAnswered - base <= index) throw new Error(`only ${probesAnswered - base} of ${index + 1} sockets answered their probe within 60 s`);
    }
  }
}

/**
 * V8's heap of a child started with `--inspect=127.0.0.1:<port>`, after a full garbage
 * collection (HeapProfiler.collectGarbage over the inspector protocol): what the sockets
 * hold, without the garbage of connecting them.
 */
async function heapAfterGc(inspectPort: number, snapshot?: HeapCensus[]): Promise<number> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
  const inspector = new WebSocket(targets[0]!.webSocketDebuggerUrl, { maxPayload: 1 << 30 });
  await new Promise((resolve, reject) => {
    inspector.once('open', resolve);
    inspector.once('error', reject);
  });
  let id = 0;
  const chunks: string[] = [];
  inspector.on('message', (data: WebSocket.RawData) => {
    const message = JSON.parse(String(data)) as { method?: string; params?: { chunk: string } };
    if (message.method === 'HeapProfiler.addHeapSnapshotChunk') chunks.push(message.params!.chunk);
  });
  const call = (method: string) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const mine = ++id;
      const onMessage = (data: WebSocket.RawData) => {
        const message = JSON.parse(String(data)) as { id?: number; result?: Record<string, unknown> };
        if (message.id !== mine) return;
        inspector.off('message', onMessage);
        resolve(message.result ?? {});
      };
      inspector.on('message', onMessage);
      inspector.send(JSON.stringify({ id: mine, method }));
    });
  await call('HeapProfiler.collectGarbage');
  await call('HeapProfiler.collectGarbage');
  const usage = await call('Runtime.getHeapUsage');
  // --heap-census: what the heap holds, by node type and constructor (a snapshot forces a GC of its own).
  if (snapshot) {
    await call('HeapProfiler.takeHeapSnapshot');
    snapshot.push(census(JSON.parse(chunks.join('')) as HeapSnapshot));
  }
  inspector.close();
  return Number(usage.usedSize);
}

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}
/** Self size and count per `type:name` of a V8 heap snapshot. */
type HeapCensus = Map<string, { count: number; bytes: number }>;

function census(heap: HeapSnapshot): HeapCensus {
  const fields = heap.snapshot.meta.node_fields;
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = [fields.indexOf('type'), fields.indexOf('name'), fields.indexOf('self_size')];
  const types = heap.snapshot.meta.node_types[0];
  const out: HeapCensus = new Map();
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + typeAt]!]!;
    // Strings by their type only (their text is the name): a census, not a dump.
    const name = type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number' ? '' : (heap.strings[heap.nodes[i + nameAt]!] ?? '').slice(0, 60);
    const key = `${type}:${name}`;
    const entry = out.get(key) ?? { count: 0, bytes: 0 };
    entry.count += 1;
    entry.bytes += heap.nodes[i + sizeAt]!;
    out.set(key, entry);
  }
  return out;
}

/** The largest differences between two censuses (after - before), by bytes. */
function censusDiff(before: HeapCensus, after: HeapCensus, top = 25): Array<{ what: string; count: number; bytes: number }> {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys]
    .map((what) => ({ what, count: (after.get(what)?.count ?? 0) - (before.get(what)?.count ?? 0), bytes: (after.get(what)?.bytes ?? 0) - (before.get(what)?.bytes ?? 0) }))
    .filter((d) => d.bytes !== 0)
    .sort((x, y) => Math.abs(y.bytes) - Math.abs(x.bytes))
    .slice(0, top);
}

/** Each instance's metrics listener (METRICS_PORT: metrics are not served on the API port). */
const metricsPorts = new Map<string, number>();

/** One sample of the server's own metrics. */
async function scrape(server: ChildServer): Promise<Map<string, number>> {
  const port = metricsPorts.get(server.name);
  if (port === undefined) throw new Error(`no metrics port for ${server.name}`);
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.trim()) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
}

/** A quantile from a Prometheus histogram's cumulative buckets: the upper bound of the bucket it falls in. */
function histogramQuantile(metrics: Map<string, number>, name: string, q: number): number {
  const buckets = [...metrics]
    .filter(([key]) => key.startsWith(`${name}_bucket{le="`))
    .map(([key, count]) => ({ le: key.includes('+Inf') ? Infinity : Number(/le="([^"]+)"/.exec(key)?.[1]), count }))
    .sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.count ?? 0;
  return buckets.find((b) => b.count >= q * total)?.le ?? NaN;
}

async function throughput(server: ChildServer, token: string, seconds: number): Promise<LoadResult> {
  return runLoad(server.url, {
    body: JSON.stringify({ query: '{ me { id } }' }),
    headers: { authorization: `Bearer ${token}` },
    connections: 50,
    durationSec: seconds,
  });
}

async function main(): Promise<void> {
  const limit = openFileLimit();
  let sockets = option('sockets', 10_000);
  // The bench process holds every client socket, each instance at most all of them, plus a margin for Redis, HTTP and files.
  if (limit < sockets + 500) {
    const allowed = Math.max(100, limit - 500);
    process.stdout.write(`[bench:ws] ulimit -n is ${limit}: measuring at ${allowed} sockets instead of ${sockets}\n`);
    sockets = allowed;
  }
  const revocations = option('revocations', 200);
  const seconds = option('seconds', 3);
  const rounds = option('rounds', 8);
  const events = option('events', 1000);
  const memoryOnly = process.argv.includes('--memory-only');
  const heapCensus = process.argv.includes('--heap-census');

  process.stdout.write('[bench:ws] building (npm run build)\n');
  const build = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`build failed:\n${build.stdout}${build.stderr}`);

  const redis = await startBenchRedis();
  const env = {
    REDIS_URL: redis.url,
    JWT_SECRET: SECRET,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    // Every socket from this one address: the per-address cap and the connection caps raised to fit.
    HTTP_MAX_CONNECTIONS: String(sockets + 1100),
    HTTP_RESERVED_CONNECTIONS: '1000',
    WS_MAX_CONNECTIONS: String(sockets + 100),
    WS_MAX_CONNECTIONS_PER_ADDRESS: String(sockets + 100),
    // A machine shared with other work can starve a process for longer than the default 500 ms:
    // a lookup failing for that reason measures the machine, not the design.
    REDIS_COMMAND_TIMEOUT_MS: '2000',
  };
  const inspectPort = await getFreePort();
  for (const name of ['M', 'A', 'B', 'C', 'D']) metricsPorts.set(name, await getFreePort());
  const metricsEnv = (name: string) => ({ METRICS_PORT: String(metricsPorts.get(name)) });
  // D's ballast: the byte count is written to this file, then D is sent SIGUSR2 (bench/lib/ballast.mjs).
  const ballastDir = mkdtempSync(path.join(os.tmpdir(), 'bench-ws-'));
  const ballastFile = path.join(ballastDir, 'ballast');
  const ballastModule = fileURLToPath(new URL('./lib/ballast.mjs', import.meta.url));
  const [m, a, b, c, d] = await Promise.all([
    // M's heap is read after a forced GC, over the inspector (loopback only); M serves no load.
    startProjectServer('M', { ...env, ...metricsEnv('M'), NODE_OPTIONS: `--inspect=127.0.0.1:${inspectPort}` }),
    startProjectServer('A', { ...env, ...metricsEnv('A') }),
    startProjectServer('B', { ...env, ...metricsEnv('B') }),
    startProjectServer('C', { ...env, ...metricsEnv('C') }),
    startProjectServer('D', { ...env, ...metricsEnv('D'), NODE_OPTIONS: `--import="${ballastModule}"`, BENCH_BALLAST_FILE: ballastFile }),
  ]);
  const issuer = createTokenIssuer({
    key: createSecretKey(Buffer.from(SECRET, 'utf8')),
    algorithm: 'HS256',
    issuer: 'graphql-revoke',
    audience: 'graphql-revoke',
    ttlSeconds: 3600,
  });
  const tokens = Array.from({ length: sockets }, (_, i) => issuer.issue({ id: `bench-user-${i}`, username: `bench${i}` }));
  const httpToken = issuer.issue({ id: 'bench-http', username: 'benchhttp' }).token;
  const wsUrl = (server: ChildServer) => server.url.replace(/^http/, 'ws');
  const results: Record<string, unknown> = { sockets, revocations, throughputSeconds: seconds, openFileLimit: limit, loadAverageAtStart: os.loadavg()[0] };

  try {
    const wsM = wsUrl(m);
    // Throughput of A against C (the same server, no socket), in alternation: a machine shared
    // with other work slows both alike. The ratio's calibration: the same with no socket on A.
    // Also the server's CPU per request (process_cpu_seconds_total over the run): less moved
    // by other work on the machine than requests per second.
    const gcSeconds = (m: Map<string, number>) =>
      [...m].filter(([key]) => key.startsWith('graphql_revoke_nodejs_gc_duration_seconds_sum')).reduce((sum, [, v]) => sum + v, 0);
    const measured = async (server: ChildServer) => {
      const before = await scrape(server);
      const run = await throughput(server, httpToken, seconds);
      const after = await scrape(server);
      const cpu = (after.get('graphql_revoke_process_cpu_seconds_total') ?? NaN) - (before.get('graphql_revoke_process_cpu_seconds_total') ?? NaN);
      return { rps: run.rps, cpuUsPerRequest: (cpu / run.requests) * 1e6, gcUsPerRequest: ((gcSeconds(after) - gcSeconds(before)) / run.requests) * 1e6 };
    };
    type Run = Awaited<ReturnType<typeof measured>>;
    /** Medians of `runs` of one instance (A or D), beside C's medians of the same alternation. */
    const summary = (runs: Run[], runsC: Run[]) => {
      const rps = median(runs.map((r) => r.rps));
      const rpsC = median(runsC.map((r) => r.rps));
      const cpu = median(runs.map((r) => r.cpuUsPerRequest));
      const cpuC = median(runsC.map((r) => r.cpuUsPerRequest));
      const gc = median(runs.map((r) => r.gcUsPerRequest));
      const gcC = median(runsC.map((r) => r.gcUsPerRequest));
      return { rps, rpsC, ratio: Number((rps / rpsC).toFixed(3)), cpu: Number(cpu.toFixed(1)), cpuC: Number(cpuC.toFixed(1)), gc: Number(gc.toFixed(1)), gcC: Number(gcC.toFixed(1)) };
    };
    /** A and C (and D, when asked) in turn, `rounds` times: A's figures against C's, and D's. */
    const alternate = async (rounds: number, withD = false) => {
      const runsA: Run[] = [];
      const runsC: Run[] = [];
      const runsD: Run[] = [];
      for (let i = 0; i < rounds; i += 1) {
        runsA.push(await measured(a));
        runsC.push(await measured(c));
        if (withD) runsD.push(await measured(d));
      }
      return { ...summary(runsA, runsC), d: withD ? summary(runsD, runsC) : undefined };
    };
    type Summary = ReturnType<typeof summary>;
    /** The instance's throughput ratio to C over the same ratio before (its calibration). */
    const overCalibration = (run: Summary, base: Summary) => Number((run.ratio / base.ratio).toFixed(3));
    /** C's CPU per request over the instance's, over the same before: a throughput ratio read from CPU. */
    const cpuRatio = (run: Summary, base: Summary) => Number((run.cpuC / run.cpu / (base.cpuC / base.cpu)).toFixed(3));
    if (!memoryOnly) {
      // Warm-up: the calibration's first rounds would otherwise still be compiling.
      for (const server of [a, c, d]) await throughput(server, httpToken, 5);
    }
    const calibration = memoryOnly ? undefined : await alternate(rounds, true);

    // Memory of M at 0, N/2 and N idle authenticated sockets (each read after 5 s).
    const half = Math.floor(sockets / 2);
    const memory = async (snapshot?: HeapCensus[]) => {
      await sleep(3000);
      const heap = await heapAfterGc(inspectPort, snapshot);
      const sample = await scrape(m);
      return { rss: sample.get('graphql_revoke_process_resident_memory_bytes') ?? NaN, heap };
    };
    const at0 = await memory();
    const started = performance.now();
    const onM = await connectMany(wsM, tokens.slice(0, half));
    const atHalf = await memory();
    onM.push(...(await connectMany(wsM, tokens.slice(half))));
    const connectSeconds = (performance.now() - started) / 1000 - 3;
    const atN = await memory();
    const live = (await scrape(m)).get('graphql_revoke_live_sockets');
    results.memory = {
      liveSockets: live,
      rssBytesPerSocket: { from0: Math.round((atN.rss - at0.rss) / sockets), fromHalf: Math.round((atN.rss - atHalf.rss) / (sockets - half)) },
      heapUsedAfterGcBytesPerSocket: { from0: Math.round((atN.heap - at0.heap) / sockets), fromHalf: Math.round((atN.heap - atHalf.heap) / (sockets - half)) },
      connectSeconds: Number(connectSeconds.toFixed(1)),
      retriedAfter1013: retried,
    };

    // 20 sessionEvents subscriptions on every socket, then E events for the sockets' users.
    const subscribing = performance.now();
    await subscribeAll(onM);
    const subscribeSeconds = (performance.now() - subscribing) / 1000;
    await sleep(500);
    const censuses: HeapCensus[] = [];
    const withSubscriptions = await memory(heapCensus ? censuses : undefined);
    const publisher = new Redis(redis.url);
    const expected = nextReceived + events * SUBSCRIPTIONS;
    const publishedAt = performance.now();
    for (let i = 0; i < events; i += 1) {
      const user = `bench-user-${i % sockets}`;
      const session = { id: `bench-session-${i}`, createdAt: new Date().toISOString(), lastUsedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 3600_000).toISOString(), userAgent: 'bench', ipAddress: '127.0.0.1' };
      await publisher.publish(liveChannel('gr'), encodeLiveEvent({ type: 'session', kind: 'CREATED', userId: user, session, at: Date.now() }));
    }
    for (const deadline = Date.now() + 60_000; nextReceived < expected && Date.now() < deadline; ) await sleep(100);
    const deliverySeconds = (performance.now() - publishedAt) / 1000;
    publisher.disconnect();
    const afterEvents = await memory(heapCensus ? censuses : undefined);
    // And after as many events again: growth that is once per process (first use) does not come back.
    let afterMoreEvents: Awaited<ReturnType<typeof memory>> | undefined;
    if (heapCensus) {
      const again = nextReceived + events * SUBSCRIPTIONS;
      const second = new Redis(redis.url);
      for (let i = 0; i < events; i += 1) {
        const user = `bench-user-${i % sockets}`;
        const session = { id: `bench-session-b${i}`, createdAt: new Date().toISOString(), lastUsedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 3600_000).toISOString(), userAgent: 'bench', ipAddress: '127.0.0.1' };
        await second.publish(liveChannel('gr'), encodeLiveEvent({ type: 'session', kind: 'CREATED', userId: user, session, at: Date.now() }));
      }
      for (const deadline = Date.now() + 60_000; nextReceived < again && Date.now() < deadline; ) await sleep(100);
      second.disconnect();
      afterMoreEvents = await memory(censuses);
    }
    results.memoryWithSubscriptions = {
      subscriptionsPerSocket: SUBSCRIPTIONS,
      subscribeSeconds: Number(subscribeSeconds.toFixed(1)),
      subscribesRefusedByCode: { ...refusedByCode },
      events,
      resultsDelivered: nextReceived - (expected - events * SUBSCRIPTIONS),
      resultsExpected: events * SUBSCRIPTIONS,
      deliverySeconds: Number(deliverySeconds.toFixed(1)),
      rssBytesPerSocket: Math.round((withSubscriptions.rss - at0.rss) / sockets),
      heapUsedAfterGcBytesPerSocket: Math.round((withSubscriptions.heap - at0.heap) / sockets),
      rssBytesPerSocketAfterEvents: Math.round((afterEvents.rss - at0.rss) / sockets),
      heapUsedAfterGcBytesPerSocketAfterEvents: Math.round((afterEvents.heap - at0.heap) / sockets),
      heapGrowthFromEventsBytesPerSocket: Math.round((afterEvents.heap - withSubscriptions.heap) / sockets),
      ...(afterMoreEvents && censuses.length === 3
        ? {
            heapGrowthFromSecondEventsBytesPerSocket: Math.round((afterMoreEvents.heap - afterEvents.heap) / sockets),
            heapCensusFirstEvents: censusDiff(censuses[0]!, censuses[1]!),
            heapCensusSecondEvents: censusDiff(censuses[1]!, censuses[2]!),
          }
        : {}),
    };
    if (memoryOnly || !calibration) {
      for (const s of onM) s.ws.terminate();
      process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
      return;
    }

    // The same sockets moved to A (never inspected: see the header): first idle (authenticated,
    // no operation), then with as many subscriptions each as on M.
    for (const s of onM) s.ws.close(1000);
    await Promise.all(onM.map((s) => s.closed));
    const onA = await connectMany(wsUrl(a), onM.map((s) => s.token));
    await sleep(1000);
    const liveOnA = (await scrape(a)).get('graphql_revoke_live_sockets');
    // D gets as much inert heap as the sockets hold on M (heap after GC): measured beside A.
    const ballastBytes = Math.max(0, Math.round(atN.heap - at0.heap));
    writeFileSync(ballastFile, `${ballastBytes}\n`);
    process.kill(d.pid, 'SIGUSR2');
    let ballast = '';
    for (const deadline = Date.now() + 60_000; !ballast.startsWith('done') && Date.now() < deadline; ) {
      await sleep(200);
      ballast = readFileSync(ballastFile, 'utf8');
    }
    if (!ballast.startsWith('done')) throw new Error('instance D did not allocate its ballast within 60 s');
    const [, heldBytes, records] = ballast.trim().split(' ').map(Number);
    await sleep(1000);
    const withIdleSockets = await alternate(rounds, true);
    await subscribeAll(onA);
    await sleep(1000);
    const withSockets = await alternate(rounds);
    results.httpThroughput = {
      calibrationNoSocketsRpsA: Math.round(calibration.rps),
      calibrationNoSocketsRpsC: Math.round(calibration.rpsC),
      calibrationRatio: calibration.ratio,
      calibrationCpuUsPerRequest: { A: calibration.cpu, C: calibration.cpuC },
      withSocketsCpuUsPerRequest: { A: withSockets.cpu, C: withSockets.cpuC },
      calibrationGcUsPerRequest: { A: calibration.gc, C: calibration.gcC },
      withSocketsGcUsPerRequest: { A: withSockets.gc, C: withSockets.gcC },
      withSocketsRpsA: Math.round(withSockets.rps),
      controlRpsC: Math.round(withSockets.rpsC),
      ratio: withSockets.ratio,
      ratioOverCalibration: overCalibration(withSockets, calibration),
      // The same from the server's CPU per request (C's over A's, over the same before any socket):
      // less moved than req/s by the load generator and Redis sharing the cores.
      cpuRatioOverCalibration: cpuRatio(withSockets, calibration),
      liveSocketsOnA: liveOnA,
      subscriptionsPerSocketOnA: SUBSCRIPTIONS,
      // The same sockets before they subscribed: open, authenticated, no operation.
      idleSockets: {
        withSocketsRpsA: Math.round(withIdleSockets.rps),
        controlRpsC: Math.round(withIdleSockets.rpsC),
        cpuUsPerRequest: { A: withIdleSockets.cpu, C: withIdleSockets.cpuC },
        gcUsPerRequest: { A: withIdleSockets.gc, C: withIdleSockets.gcC },
        ratio: withIdleSockets.ratio,
        ratioOverCalibration: overCalibration(withIdleSockets, calibration),
        cpuRatioOverCalibration: cpuRatio(withIdleSockets, calibration),
      },
      // Instance D in the same alternations: no socket, as much inert heap as the sockets hold.
      sameHeapWithoutSockets: {
        ballastBytesAsked: ballastBytes,
        ballastBytesHeld: heldBytes,
        ballastRecords: records,
        calibrationRatio: calibration.d!.ratio,
        rpsD: Math.round(withIdleSockets.d!.rps),
        cpuUsPerRequest: { D: withIdleSockets.d!.cpu, C: withIdleSockets.d!.cpuC },
        gcUsPerRequest: { D: withIdleSockets.d!.gc, C: withIdleSockets.d!.gcC },
        ratio: withIdleSockets.d!.ratio,
        ratioOverCalibration: overCalibration(withIdleSockets.d!, calibration.d!),
        cpuRatioOverCalibration: cpuRatio(withIdleSockets.d!, calibration.d!),
      },
    };

    // Half the sockets move to B: N across two instances.
    const moving = onA.splice(0, half);
    for (const s of moving) s.ws.close(1000);
    await Promise.all(moving.map((s) => s.closed));
    const onB = await connectMany(wsUrl(b), moving.map((s) => s.token));
    await sleep(1000);
    const [countA, countB] = await Promise.all([scrape(a), scrape(b)]);
    const open = { A: countA.get('graphql_revoke_live_sockets'), B: countB.get('graphql_revoke_live_sockets') };

    // R revocations, alternating: a token of a socket on B cancelled through A, then the reverse.
    const delays: number[] = [];
    let cancelRetries = 0;
    for (let i = 0; i < revocations; i += 1) {
      const [victims, via] = i % 2 === 0 ? [onB, a] : [onA, b];
      const victim = victims.pop() as Socket;
      let answer = await graphql(via.url, 'mutation { cancelToken }', { token: victim.token.token });
      // 503 (store unavailable): retried as a client would, and counted.
      for (let attempt = 1; answer.status === 503 && attempt < 5; attempt += 1) {
        cancelRetries += 1;
        await sleep(200);
        answer = await graphql(via.url, 'mutation { cancelToken }', { token: victim.token.token });
      }
      const answeredAt = performance.now();
      if (answer.data?.cancelToken !== true) throw new Error(`cancelToken failed: ${JSON.stringify(answer)}`);
      const close = await Promise.race([victim.closed, sleep(5000).then(() => undefined)]);
      if (!close) throw new Error('a revoked socket was still open 5 s after the answer');
      if (close.code !== 4403) throw new Error(`closed with ${close.code}, expected 4403`);
      delays.push(close.at - answeredAt);
      await sleep(10);
    }
    delays.sort((x, y) => x - y);
    const [finalA, finalB] = await Promise.all([scrape(a), scrape(b)]);
    const serverDelays = (m: Map<string, number>) => ({
      count: m.get('graphql_revoke_live_fanout_delay_seconds_count'),
      p50UpperBoundMs: histogramQuantile(m, 'graphql_revoke_live_fanout_delay_seconds', 0.5) * 1000,
      p99UpperBoundMs: histogramQuantile(m, 'graphql_revoke_live_fanout_delay_seconds', 0.99) * 1000,
    });
    results.fanOut = {
      openSockets: open,
      cancelTokenRetriedAfter503: cancelRetries,
      clientObservedMs: {
        p50: Number(quantile(delays, 0.5).toFixed(2)),
        p99: Number(quantile(delays, 0.99).toFixed(2)),
        max: Number((delays.at(-1) ?? NaN).toFixed(2)),
      },
      serverHistogram: { A: serverDelays(finalA), B: serverDelays(finalB) },
    };
    for (const s of [...onA, ...onB]) s.ws.terminate();
    results.loadAverageAtEnd = os.loadavg()[0];
  } finally {
    await Promise.all([m.stop(), a.stop(), b.stop(), c.stop(), d.stop()]);
    await redis.stop();
    rmSync(ballastDir, { recursive: true, force: true });
  }
  if (memoryOnly) return;
  const out = JSON.stringify(results, null, 2);
  process.stdout.write(`${out}\n`);
  writeFileSync(new URL('./ws-results.json', import.meta.url), `${out}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`[bench:ws] ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
