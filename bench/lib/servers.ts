/**
 * The servers under load, each a child process of its own (so the load generator, in the
 * bench process, doesn't share their event loop): the project as users run it
 * (`npm start`: `node dist/server/main.js`, configured by env) and the plain Apollo baseline
 * (bench/plain-server.ts), both compiled by tsc first (buildServers).
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTokenIssuer, type TokenIssuer } from '../../src/auth/token-issuer.js';
import { loadConfig } from '../../src/config/load-config.js';
import { getFreePort } from '../../test/helpers/free-port.js';
import { createGcTrace, GC_TRACE_FLAG, type GcTotals } from './gc-trace.js';
import { track } from './redis.js';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A server running in a child process. */
export interface ChildServer {
  readonly name: string;
  /** The GraphQL endpoint. */
  readonly url: string;
  readonly pid: number;
  /** Its garbage collection so far (V8's --trace-gc-nvp lines on its stdout). */
  gc(): GcTotals;
  stop(): Promise<void>;
}

/** Where a child runs: `taskset -c <cpus>` when set. */
export interface Placement {
  cpus?: string | undefined;
}

/** Where the compiled baseline goes (gitignored). */
const PLAIN_BUILD_DIR = 'bench/.build';

/**
 * Signs tokens exactly as a project server started with `env` signs its own: the signing key,
 * algorithm, key id (kid), issuer and audience that loadConfig derives from that env, as the
 * server's own issuer takes them (src/server/shared-pieces.ts).
 */
export function serverTokenIssuer(env: Record<string, string>, ttlSeconds = 3600): TokenIssuer {
  const { jwt } = loadConfig(env).config;
  const { key, algorithm, kid } = jwt.keys.signing;
  return createTokenIssuer({ key, algorithm, keyId: kid, issuer: jwt.issuer, audience: jwt.audience, ttlSeconds });
}

/**
 * Compiles the project (`npm run build`: src/ -> dist/) and the baseline
 * (bench/plain-server.ts, and the peer bench/peer-server.ts -> bench/.build/), so all run as plain JavaScript: what
 * production runs, with no TypeScript loader in either process.
 */
export function buildServers(): void {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const builds = [
    ['-p', 'tsconfig.build.json'],
    ['bench/plain-server.ts', 'bench/peer-server.ts', '--outDir', PLAIN_BUILD_DIR, '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--strict', '--skipLibCheck'],
  ];
  for (const args of builds) {
    const result = spawnSync(process.execPath, [tsc, ...args], { cwd: ROOT, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`tsc ${args.join(' ')} failed:\n${result.stdout}${result.stderr}`);
  }
}

function launch(name: string, script: string[], env: Record<string, string>, placement: Placement, cwd = ROOT) {
  // Only what the server needs: a developer's own REDIS_URL or NODE_ENV must not leak in.
  const childEnv: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env };
  // V8 prints a line per garbage collection: allocation, promotion and pauses per request
  // for both servers, with no code of ours in either (bench/lib/gc-trace.ts).
  // BENCH_NODE_FLAGS: extra node flags for every server (e.g. `--cpu-prof --cpu-prof-dir=DIR`
  // to profile one under load; node refuses --cpu-prof in NODE_OPTIONS).
  const extra = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const args = [GC_TRACE_FLAG, ...extra, ...script];
  const [command, argv] = placement.cpus
    ? ['taskset', ['-c', placement.cpus, process.execPath, ...args]]
    : [process.execPath, args];
  const child = spawn(command as string, argv as string[], { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let output = '';
  const gc = createGcTrace();
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    gc.feed(text);
    // The server's own lines, for a failure message: not the GC trace.
    const own = text
      .split('\n')
      .filter((line) => !line.includes(' pause='))
      .join('\n');
    output = (output + own).slice(-8000);
  });
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    gc: gc.totals,
    output: () => output,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      // The bench needs no graceful drain: a server still up 3 s after SIGTERM is killed (and said so).
      const done = await Promise.race([exited.then(() => true), sleep(3000).then(() => false)]);
      if (!done) {
        process.stdout.write(`[bench] ${name} (pid ${child.pid}) still running 3 s after SIGTERM: SIGKILL\n`);
        child.kill('SIGKILL');
        await exited;
      }
    },
    fail(reason: string): never {
      child.kill('SIGKILL');
      throw new Error(`${name}: ${reason}\n--- its output ---\n${output.trim().split('\n').slice(-20).join('\n')}`);
    },
  };
}

/**
 * Starts the project's built entry point (what `npm start` runs) with `env` and waits for
 * /healthz. `root`: another checkout of the project, built (bench:gc's "before" server).
 */
export async function startProjectServer(name: string, env: Record<string, string>, placement: Placement = {}, root = ROOT): Promise<ChildServer> {
  const port = await getFreePort();
  const handle = launch(name, ['dist/server/main.js'], { ...env, PORT: String(port), HOST: '127.0.0.1' }, placement, root);
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (handle.child.exitCode !== null) handle.fail(`exited with code ${handle.child.exitCode} before it was ready`);
    if (Date.now() > deadline) handle.fail('not ready within 30 s');
    try {
      const response = await fetch(`${base}/healthz`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  return { name, url: `${base}/graphql`, pid: handle.child.pid ?? -1, gc: handle.gc, stop: handle.stop };
}

/** Starts the compiled bench/plain-server.ts and waits for the URL it prints. */
export function startPlainServer(name: string, placement: Placement = {}): Promise<ChildServer> {
  return startBaseline(name, 'plain-server.js', {}, placement);
}

/** Starts the compiled bench/peer-server.ts (Apollo + jsonwebtoken + a Redis blacklist by hand) on `env`'s Redis and secret. */
export function startPeerServer(name: string, env: { REDIS_URL: string; JWT_SECRET: string }, placement: Placement = {}): Promise<ChildServer> {
  return startBaseline(name, 'peer-server.js', env, placement);
}

async function startBaseline(name: string, script: string, env: Record<string, string>, placement: Placement): Promise<ChildServer> {
  const handle = launch(name, [`${PLAIN_BUILD_DIR}/${script}`], { ...env, PORT: '0' }, placement);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const line = /\{"url":"([^"]+)"\}/.exec(handle.output());
    if (line) return { name, url: line[1] as string, pid: handle.child.pid ?? -1, gc: handle.gc, stop: handle.stop };
    if (handle.child.exitCode !== null) handle.fail(`exited with code ${handle.child.exitCode} before it was ready`);
    if (Date.now() > deadline) handle.fail('not ready within 30 s');
    await sleep(50);
  }
}
