/**
 * A redis-server of the bench's own: a free loopback port (never the machine's 6379),
 * a temporary directory, no persistence, killed when the bench exits. Nothing else
 * is ever flushed or touched.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { getFreePort } from '../../test/helpers/free-port.js';

/** A running bench Redis. */
export interface BenchRedis {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

const SHARED_PORT = 6379;

/** A TCP port free on 127.0.0.1 right now: the test helpers' one. */
export const freePort = getFreePort;

const children = new Set<ChildProcess>();
/** Kills every child the bench started if it exits (even on a crash). */
export function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Starts a redis-server on a free loopback port and resolves once it answers PING. */
export async function startBenchRedis(extraArgs: string[] = []): Promise<BenchRedis> {
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    if (port === SHARED_PORT) continue;
    const dir = mkdtempSync(join(tmpdir(), 'graphql-revoke-bench-redis-'));
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no', ...extraArgs],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    track(child);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    const deadline = Date.now() + 10_000;
    let ready = false;
    while (Date.now() < deadline && child.exitCode === null) {
      const error = await Promise.race([spawnError, sleep(50).then(() => undefined)]);
      if (error) throw new Error(`could not run redis-server (is it installed and on PATH?): ${error.message}`);
      try {
        if (probe.status !== 'ready') await probe.connect();
        if ((await probe.ping()) === 'PONG') {
          ready = true;
          break;
        }
      } catch {
        probe.disconnect();
      }
    }
    probe.disconnect();
    if (ready) {
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        pid: child.pid ?? -1,
        async stop() {
          if (child.exitCode === null) {
            child.kill('SIGTERM');
            await Promise.race([exited, sleep(5000).then(() => child.kill('SIGKILL'))]);
          }
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    if (attempt >= 3 || !/address already in use/i.test(output)) {
      throw new Error(`redis-server did not start on port ${port}: ${output.trim().split('\n').slice(-5).join(' | ')}`);
    }
  }
}

/** INFO <section> parsed into a map of field -> value. */
export async function info(client: Redis, section: string): Promise<Map<string, string>> {
  const text = await client.info(section);
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** `used_memory` in bytes. */
export async function usedMemory(client: Redis): Promise<number> {
  return Number((await info(client, 'memory')).get('used_memory'));
}

/** Calls per command from INFO commandstats (`cmdstat_zscore` -> `zscore`). */
export async function commandCalls(client: Redis): Promise<Map<string, number>> {
  const stats = await info(client, 'commandstats');
  const calls = new Map<string, number>();
  for (const [field, value] of stats) {
    if (!field.startsWith('cmdstat_')) continue;
    const match = /calls=(\d+)/.exec(value);
    if (match) calls.set(field.slice('cmdstat_'.length), Number(match[1]));
  }
  return calls;
}

/** The commands called between two commandstats snapshots, without `exclude`. */
export function commandDelta(before: Map<string, number>, after: Map<string, number>, exclude: string[] = ['info']): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [name, calls] of after) {
    if (exclude.includes(name)) continue;
    const d = calls - (before.get(name) ?? 0);
    if (d > 0) delta.set(name, d);
  }
  return delta;
}

/** Resolves once an ioredis client is ready (clients built without an offline queue fail commands before). */
export function whenReady(client: { status: string; once(event: 'ready', listener: () => void): unknown }, timeoutMs = 5000): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Redis not ready within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
