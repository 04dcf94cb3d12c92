import type { Cluster, Redis } from 'ioredis';
import { StoreUnavailableError } from '../errors.js';
import type { RedisClient } from './redis-client-type.js';

/** Told with the latency in seconds of each store command, and whether it succeeded (metrics). */
export type ObserveLatency = (operation: string, seconds: number, ok: boolean) => void;

/**
 * Runs one store command: its latency goes to `observe`, and any failure becomes a
 * StoreUnavailableError naming `operation` (the cause kept for the log), so a caller never
 * mistakes a failed write for a success nor a failed read for "not revoked".
 */
export async function runStoreCommand<T>(observe: ObserveLatency | undefined, operation: string, command: () => Promise<T>): Promise<T> {
  const started = observe ? performance.now() : 0;
  try {
    const result = await command();
    observe?.(operation, (performance.now() - started) / 1000, true);
    return result;
  } catch (error) {
    observe?.(operation, (performance.now() - started) / 1000, false);
    if (error instanceof StoreUnavailableError) throw error;
    throw new StoreUnavailableError(operation, { cause: error });
  }
}

/**
 * WAIT until `replicas` replicas have the writes made so far on the node that owns `key`;
 * fewer within `timeoutMs` is an error: a write not replicated in time is not acknowledged.
 */
export async function waitForReplicas(writer: RedisClient, key: string, replicas: number, timeoutMs: number, operation: string): Promise<void> {
  if (replicas <= 0) return;
  let acked: number;
  if ((writer as Cluster).isCluster) {
    // WAIT must reach the node that owns the key's slot; ioredis routes a pipeline
    // by its first keyed command, so a keyed no-op read pins the node.
    const results = await (writer as Cluster).pipeline().exists(key).wait(replicas, timeoutMs).exec();
    acked = Number(results?.[1]?.[1] ?? 0);
  } else {
    acked = await (writer as Redis).wait(replicas, timeoutMs);
  }
  if (acked < replicas) {
    throw new StoreUnavailableError(`${operation} (only ${acked}/${replicas} replicas acknowledged)`);
  }
}
