/**
 * A redis-server of the bench's own (the test helpers' startRedisServer): a free loopback
 * port (never the machine's 6379), a temporary directory, no persistence, killed when the
 * bench exits. Nothing else is ever flushed or touched. Also: INFO readers for the bench.
 */
import type { ChildProcess } from 'node:child_process';
import type { Redis } from 'ioredis';
import { parseInfo, startRedisServer } from '../../test/helpers/redis-server.js';

/** A running bench Redis. */
export interface BenchRedis {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
/** Kills every child the bench started if it exits (even on a crash). */
export function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Starts a redis-server without persistence on a free loopback port; resolves once it answers PING. */
export async function startBenchRedis(): Promise<BenchRedis> {
  const server = await startRedisServer({ appendonly: false });
  return { url: server.url, pid: server.pid, stop: () => server.cleanup() };
}

/** INFO <section> parsed into a map of field -> value. */
export async function info(client: Redis, section: string): Promise<Map<string, string>> {
  return parseInfo(await client.info(section));
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

/** The commands called between two commandstats snapshots, without the bench's own INFO. */
export function commandDelta(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [name, calls] of after) {
    if (name === 'info') continue;
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
