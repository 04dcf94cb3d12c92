/**
 * Real `redis-server` processes for tests: each on a free loopback port, in
 * its own temporary directory, never the machine's shared Redis on 6379.
 *
 * Every process started here is tracked and SIGKILLed (and its directory
 * removed) when the Node process exits, so a test run that crashes or forgets
 * a cleanup does not leave servers behind.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { getFreePort } from './free-port.js';

/** The only interface test servers bind to. */
export const LOOPBACK_HOST = '127.0.0.1';

/** The binary started by every helper in this folder; it must be on PATH. */
export const REDIS_SERVER_BINARY = 'redis-server';

// The machine's own Redis listens there; tests must never start on it or flush it.
const SHARED_REDIS_PORT = 6379;
const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;
const POLL_INTERVAL_MS = 50;
const MAX_PORT_ATTEMPTS = 5;
const LOG_TAIL_LINES = 30;

/** Where a Redis server (or sentinel) listens. */
export interface RedisAddress {
  host: string;
  port: number;
}

/** A redis-server process the test controls. */
export interface RedisServerProcess extends RedisAddress {
  /** Always `127.0.0.1`. */
  readonly host: string;
  /** Stays the same across `restart()`. */
  readonly port: number;
  /** `redis://127.0.0.1:PORT`. */
  readonly url: string;
  /** The process's working directory: AOF, RDB, nodes.conf and the log live here. */
  readonly dir: string;
  /** Absolute path of the server's log file (inside `dir`). */
  readonly logFile: string;
  /** Pid of the current (or last) process; changes on `restart()`. */
  readonly pid: number;
  /** True between a successful start and the process's exit. */
  readonly running: boolean;
  /** Graceful stop (SIGTERM, SIGKILL after 5 s); resolves once the process has exited. */
  stop(): Promise<void>;
  /** SIGKILL, to simulate a crash; resolves once the process has exited. */
  kill(): Promise<void>;
  /**
   * Starts again on the same port and in the same directory, so the AOF is
   * replayed; resolves once PING answers and loading is over. Stops the
   * running process first if there is one.
   */
  restart(): Promise<void>;
  /** Stops the process if it runs and removes its directory. */
  cleanup(): Promise<void>;
}

/** Options of {@link startRedisServer}. */
export interface StartRedisServerOptions {
  /** Port to listen on; default: a free port (and another one if it was taken meanwhile). */
  port?: number | undefined;
  /** `--appendonly yes` with `--appendfsync always`, so a SIGKILL loses no acknowledged write; default true. */
  appendonly?: boolean;
  /** Extra command-line arguments, appended last so they win, e.g. `['--replicaof', host, port]`. */
  args?: string[];
}

/** What a process's argument builder is given; see {@link startRedisProcess}. */
export interface RedisProcessContext {
  port: number;
  dir: string;
  logFile: string;
}

/** Options of {@link startRedisProcess}. */
export interface StartRedisProcessOptions {
  /** Port to listen on; default: a free port, retried if it was taken before the server bound it. */
  port?: number | undefined;
  /** Prefix of the temporary directory's name, to tell processes apart in /tmp. */
  label?: string;
  /**
   * Builds the full `redis-server` argument list. Called for every launch:
   * each port attempt and each `restart()` (with the same port then).
   */
  buildArgs(context: RedisProcessContext): string[] | Promise<string[]>;
}

/** True if `redis-server` can be run from PATH. */
export function isRedisServerAvailable(): boolean {
  const result = spawnSync(REDIS_SERVER_BINARY, ['--version'], { stdio: 'ignore', timeout: 5_000 });
  return result.error === undefined && result.status === 0;
}

/**
 * The standard arguments of a data server started by these helpers: loopback
 * only, no RDB snapshots, and optionally a fsync-always AOF.
 */
export function redisServerArgs(context: RedisProcessContext, appendonly: boolean): string[] {
  return [
    '--port', String(context.port),
    '--bind', LOOPBACK_HOST,
    '--protected-mode', 'no',
    '--daemonize', 'no',
    '--dir', context.dir,
    '--logfile', context.logFile,
    // No RDB snapshots: the AOF (when on) is the only persistence, so what a
    // restart recovers is exactly what the AOF holds.
    '--save', '',
    '--appendonly', appendonly ? 'yes' : 'no',
    ...(appendonly ? ['--appendfsync', 'always'] : []),
  ];
}

/**
 * Starts a `redis-server` on a free loopback port in a fresh temporary
 * directory and resolves once it answers PING and has finished loading.
 */
export function startRedisServer(options: StartRedisServerOptions = {}): Promise<RedisServerProcess> {
  const appendonly = options.appendonly ?? true;
  const extraArgs = options.args ?? [];
  return startRedisProcess({
    port: options.port,
    label: 'redis',
    buildArgs: (context) => [...redisServerArgs(context, appendonly), ...extraArgs],
  });
}

/**
 * Starts any `redis-server` process (data server, cluster node, sentinel)
 * whose arguments the caller builds, in a fresh temporary directory, and
 * resolves once it answers PING and has finished loading. The building block
 * of the cluster and sentinel helpers.
 */
export async function startRedisProcess(options: StartRedisProcessOptions): Promise<RedisServerProcess> {
  assertNotSharedPort(options.port);
  const dir = await mkdtemp(join(tmpdir(), `graphql-revoke-${options.label ?? 'redis'}-`));
  liveDirs.add(dir);
  installExitHook();
  try {
    for (let attempt = 1; ; attempt += 1) {
      const port = options.port ?? (await getFreePort());
      assertNotSharedPort(port);
      const handle = new ManagedRedisProcess(port, dir, options.buildArgs);
      try {
        await handle.launch();
        return handle;
      } catch (error) {
        // A free port can be taken between getFreePort() and the bind; only
        // then, and only for a port we chose, is another port worth a try.
        const retry = error instanceof PortInUseError && options.port === undefined && attempt < MAX_PORT_ATTEMPTS;
        if (!retry) throw error;
        await rm(handle.logFile, { force: true });
      }
    }
  } catch (error) {
    await removeDir(dir);
    throw error;
  }
}

/**
 * Sends one command on a short-lived connection and returns the reply.
 * Fails fast (no reconnects, no offline queue): callers poll with it.
 */
export async function redisCommand(
  address: RedisAddress,
  command: string,
  args: (string | number)[] = [],
  timeoutMs = 2_000,
): Promise<unknown> {
  const client = new Redis({
    host: address.host,
    port: address.port,
    lazyConnect: true,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
  });
  // Failures reach the caller through the rejected promises below; without a
  // listener ioredis would also print them as "Unhandled error event".
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.call(command, args);
  } finally {
    client.disconnect();
  }
}

/**
 * Parses the `field:value` lines of an INFO (or CLUSTER INFO) reply.
 */
export function parseInfo(reply: unknown): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of String(reply).split(/\r?\n/)) {
    const separator = line.indexOf(':');
    if (separator > 0 && !line.startsWith('#')) fields.set(line.slice(0, separator), line.slice(separator + 1).trim());
  }
  return fields;
}

class PortInUseError extends Error {}

class ManagedRedisProcess implements RedisServerProcess {
  readonly host = LOOPBACK_HOST;
  readonly url: string;
  readonly logFile: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private isRunning = false;
  private removed = false;
  private stderrTail = '';
  private spawnError: Error | undefined;

  constructor(
    readonly port: number,
    readonly dir: string,
    private readonly buildArgs: StartRedisProcessOptions['buildArgs'],
  ) {
    this.url = `redis://${LOOPBACK_HOST}:${port}`;
    this.logFile = join(dir, 'redis.log');
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  get running(): boolean {
    return this.isRunning;
  }

  async launch(): Promise<void> {
    if (this.removed) throw new Error(`redis-server on port ${this.port}: cleanup() removed its directory; start a new one`);
    const args = await this.buildArgs({ port: this.port, dir: this.dir, logFile: this.logFile });
    this.stderrTail = '';
    this.spawnError = undefined;
    // stdout stays empty once --logfile is open; stderr carries the errors
    // Redis prints before that (a bad argument, a config file it cannot read).
    const child = spawn(REDIS_SERVER_BINARY, args, { cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    this.isRunning = true;
    trackChild(child);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-4_000);
    });
    this.exited = new Promise<void>((resolve) => {
      const done = (): void => {
        this.isRunning = false;
        resolve();
      };
      child.once('exit', done);
      child.once('error', (error) => {
        this.spawnError = error;
        done();
      });
    });
    // Without this, a test that forgets cleanup() would keep Node alive; the
    // exit hook below still kills the process.
    child.unref();
    (child.stderr as { unref?: () => void } | null)?.unref?.();
    try {
      await this.waitUntilReady();
    } catch (error) {
      await this.kill();
      throw error;
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.isRunning) return;
    child.kill('SIGTERM');
    // The grace timer is cancelled once the process exits: a pending timer
    // would otherwise hold the Node process open for the full grace period.
    const grace = new AbortController();
    const exitedInTime = await Promise.race([
      this.exited.then(() => true),
      sleep(STOP_GRACE_MS, false, { signal: grace.signal }).catch(() => true),
    ]);
    grace.abort();
    if (!exitedInTime) {
      child.kill('SIGKILL');
      await this.exited;
    }
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.isRunning) return;
    child.kill('SIGKILL');
    await this.exited;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  async cleanup(): Promise<void> {
    await this.stop();
    this.removed = true;
    await removeDir(this.dir);
  }

  private async waitUntilReady(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let lastProblem = 'no answer yet';
    for (;;) {
      if (!this.isRunning) {
        const tail = await this.logTail();
        if (this.spawnError) {
          throw new Error(`Could not run ${REDIS_SERVER_BINARY} (${this.spawnError.message}); install Redis so it is on PATH`);
        }
        const message = `${REDIS_SERVER_BINARY} on port ${this.port} exited before it was ready\n${tail}`;
        throw /Address already in use/i.test(tail) ? new PortInUseError(message) : new Error(message);
      }
      try {
        await redisCommand(this, 'PING', [], 1_000);
        // PING alone can answer before an AOF replay is over (or fail with
        // LOADING); INFO tells for sure. Sentinels have no persistence section.
        const persistence = parseInfo(await redisCommand(this, 'INFO', ['persistence'], 1_000));
        if (persistence.get('loading') !== '1') return;
        lastProblem = 'still loading its data';
      } catch (error) {
        lastProblem = error instanceof Error ? error.message : String(error);
      }
      if (Date.now() >= deadline) {
        throw new Error(
          `${REDIS_SERVER_BINARY} on port ${this.port} was not ready after ${READY_TIMEOUT_MS} ms (${lastProblem})\n${await this.logTail()}`,
        );
      }
      await sleep(POLL_INTERVAL_MS);
    }
  }

  private async logTail(): Promise<string> {
    const log = await readFile(this.logFile, 'utf8').catch(() => '');
    const lines = log.trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
    const stderr = this.stderrTail.trim();
    return [`--- tail of ${this.logFile} ---`, lines || '(empty)', ...(stderr ? ['--- stderr ---', stderr] : [])].join('\n');
  }
}

function assertNotSharedPort(port: number | undefined): void {
  if (port === SHARED_REDIS_PORT) {
    throw new Error(`Refusing to start a test Redis on port ${SHARED_REDIS_PORT}: the machine's shared Redis lives there`);
  }
}

const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;

async function removeDir(dir: string): Promise<void> {
  liveDirs.delete(dir);
  await rm(dir, { recursive: true, force: true });
}

function trackChild(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  child.once('error', () => liveChildren.delete(child));
}

function killAllAndRemoveDirs(): void {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // Already gone; nothing left to do at exit.
    }
  }
  liveChildren.clear();
  for (const dir of liveDirs) {
    try {
      // Best effort: a process killed a moment ago may still write a file.
      rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
    } catch {
      // A leftover directory in /tmp is not worth failing the exit for.
    }
  }
  liveDirs.clear();
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: kill() and rmSync() are.
  process.once('exit', killAllAndRemoveDirs);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAllAndRemoveDirs();
      // A signal listener cancels Node's default "exit on signal". If ours is
      // the only one, restore that default by re-raising the signal.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}
