/**
 * Detects, while the API runs, that Redis lost the data behind revocations, and fails
 * safe: tokens issued before the loss are refused from then on, by every instance.
 * The design, on paper, is in docs/data-loss.md; in short:
 *
 * - **What marks the data as present.** One marker per shard (per Cluster master; the one
 *   Redis of a single node or Sentinel set-up), a hash with no TTL: `epoch` (random, set
 *   when the marker is created), `seq` (bumped after every acknowledged write to that
 *   shard) and `cutoff`. Whatever empties the shard (FLUSHALL, a restart without
 *   persistence, a failover to an empty replica) takes the marker with it. A marker this
 *   process has seen and that is then missing, or carries another epoch, means the
 *   shard's data is gone.
 * - **A failover that lost the last writes.** After each write this process bumps the
 *   shard's `seq` and remembers the answer, and each check remembers what it read. A
 *   shard that comes back with a `seq` below what this process saw lost writes this
 *   process saw acknowledged. Writes acknowledged only to other instances are caught by
 *   them (and they tell every instance through `cutoff`); a loss between two checks of
 *   instances that wrote nothing is not seen (see docs/data-loss.md).
 * - **A slot migration is not a loss.** Markers are read by key through the Cluster
 *   client, so a marker whose slot moves to another master is still found there (MIGRATE
 *   moves the key with its slot). Markers are chosen per master from the current slot map
 *   at each check; a newly chosen marker that never existed is created, not reported.
 * - **Fail safe, everywhere.** On a loss this process writes `cutoff` = Redis' TIME + 1 s
 *   into every shard's marker (never lowering it). Every instance reads every marker each
 *   check and refuses tokens whose `iat` is below the highest cutoff; an instance started
 *   later reads the same markers before it serves. The per-request check stays one Redis
 *   command: the cutoff is compared in process.
 *
 * The check runs every `intervalMs` (default 1 s) off the request path: one HMGET per
 * marker. Losses are logged at error level with the shard, and counted (onLoss).
 */
import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { keySlot } from '../redis/cluster-slot.js';
import { createKeySpace, type KeySpace } from '../redis/keys.js';
import type { RedisClient } from '../redis/redis-client-type.js';

import type { DataLossMode } from '../config/config-types.js';
// Declared with the configuration (REDIS_DATA_LOSS), which sits below the safeguards.
export type { DataLossMode } from '../config/config-types.js';

/** Where the watcher logs. */
export interface DataLossLogger {
  error(object: object, message: string): void;
  warn(object: object, message: string): void;
  info(object: object, message: string): void;
}

/** Options of {@link createDataLossWatcher}. */
export interface DataLossWatcherOptions {
  client: RedisClient;
  /** Key prefix. Default 'gr'. */
  keyPrefix?: string;
  /** Default 'refuse-old-tokens'. With 'ignore', a loss is logged and counted, and nothing refused. */
  mode?: DataLossMode;
  /** Milliseconds between checks. Default 1000. */
  intervalMs?: number;
  logger?: DataLossLogger;
  /** Told of each loss detected here: the shard and why. */
  onLoss?: (shard: string, reason: string) => void;
  /** Told whenever the cutoff in force rises (seconds since the epoch). */
  onCutoff?: (cutoffSeconds: number) => void;
}

/** The watcher: start it once, read `cutoffSeconds` on every request. */
export interface DataLossWatcher {
  /** Tokens whose `iat` is below this (seconds) are refused; 0 while no loss was recorded. */
  readonly cutoffSeconds: number;
  /**
   * True once a check has read a marker (until then this process does not know the cutoff),
   * and, on a single node or Sentinel, once one has since the last reconnection.
   */
  readonly ready: boolean;
  /** Resolves after the first check that read a marker (or never, if Redis never answers). */
  readonly firstCheck: Promise<void>;
  /** Runs one check now (tests, and the timer). Never rejects. */
  check(): Promise<void>;
  /** Bumps the write sequence of the shard that holds `key` and remembers it (RedisRevocationStore's afterWrite). */
  acknowledgeWrite(key: string): Promise<void>;
  /** Starts the periodic check (and runs one at once). */
  start(): void;
  stop(): void;
}

interface Seen {
  epoch: string;
  seq: number;
}

/**
 * KEYS: marker. ARGV: new epoch, cutoff floor (s), '1' to raise the cutoff to Redis' TIME + 1.
 * Creates the marker if it has no epoch (keeping a `seq` bumped meanwhile), never lowers
 * its cutoff. A cutoff recorded in the last 3 s is the same loss seen by another instance
 * first: it is kept, not raised again (tokens issued since would be refused for nothing).
 * Returns { epoch, seq, cutoff, created }.
 */
const ENSURE_MARKER = `
local cutoff = tonumber(ARGV[2])
if ARGV[3] == '1' then
  local now = tonumber(redis.call('TIME')[1]) + 1
  local recorded = tonumber(redis.call('HGET', KEYS[1], 'cutoff') or '0')
  if now > cutoff and recorded < now - 3 then cutoff = now end
end
local created = redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1])
redis.call('HSETNX', KEYS[1], 'seq', 0)
local old = tonumber(redis.call('HGET', KEYS[1], 'cutoff') or '0')
if cutoff > old then redis.call('HSET', KEYS[1], 'cutoff', cutoff) else cutoff = old end
return { redis.call('HGET', KEYS[1], 'epoch'), tonumber(redis.call('HGET', KEYS[1], 'seq')), cutoff, created }
`;

type MarkerClient = RedisClient & {
  grEnsureMarker(marker: string, epoch: string, floor: number, raise: '0' | '1'): Promise<[string, number, number, number]>;
};

const MAX_CANDIDATES = 100_000;
const SINGLE = 'single';

function isCluster(client: RedisClient): client is Cluster {
  return Boolean((client as Cluster).isCluster);
}

/** Builds the watcher. Nothing runs until `start()`. */
export function createDataLossWatcher(options: DataLossWatcherOptions): DataLossWatcher {
  const client = options.client as MarkerClient;
  if (typeof client.grEnsureMarker !== 'function') {
    client.defineCommand('grEnsureMarker', { numberOfKeys: 1, lua: ENSURE_MARKER });
  }
  const keys: KeySpace = createKeySpace(options.keyPrefix);
  const mode = options.mode ?? 'refuse-old-tokens';
  const intervalMs = options.intervalMs ?? 1000;
  const logger = options.logger;
  /** marker key -> what this process last saw of it. */
  const seen = new Map<string, Seen>();
  /** Markers found lost whose loss could not be recorded in Redis yet (retried at each check). */
  const pendingLoss = new Set<string>();
  /** candidate index -> slot, computed once each. */
  const candidateSlots: number[] = [];
  let cutoff = 0;
  let ready = false;
  /**
   * False from a lost connection until a check after it read a marker: a restart or a
   * failover drops the connection, so the requests that follow wait for that check (503
   * for a few ms) instead of being served by a Redis that may have come back empty.
   */
  let verified = false;
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let markFirstCheck: () => void = () => {};
  const firstCheck = new Promise<void>((resolve) => {
    markFirstCheck = resolve;
  });

  function candidateSlot(index: number): number {
    let slot = candidateSlots[index];
    if (slot === undefined) {
      slot = keySlot(keys.shardMarker(index));
      candidateSlots[index] = slot;
    }
    return slot;
  }

  /** The last result of markersByShard, for acknowledgeWrite (recomputed at each check). */
  let chosenMarkers = new Map<string, string>();

  /** master ("host:port", or 'single') -> its marker key, from the client's current slot map. */
  function markersByShard(): Map<string, string> {
    if (!isCluster(client)) return new Map([[SINGLE, keys.shardMarker(0)]]);
    const slots = client.slots;
    const masters = new Set<string>();
    for (const owners of slots) if (owners?.[0]) masters.add(owners[0]);
    const chosen = new Map<string, string>();
    for (let index = 0; chosen.size < masters.size && index < MAX_CANDIDATES; index += 1) {
      const owner = slots[candidateSlot(index)]?.[0];
      if (owner && !chosen.has(owner)) chosen.set(owner, keys.shardMarker(index));
    }
    return chosen;
  }

  /** Which shard holds `key` now, for the log: the Cluster master, or the one Redis. */
  function shardOf(key: string): string {
    if (isCluster(client)) return client.slots[keySlot(key)]?.[0] ?? `slot ${keySlot(key)}`;
    const single = client as Redis;
    const stream = single.stream;
    return stream?.remoteAddress ? `${stream.remoteAddress}:${stream.remotePort}` : `${single.options.host}:${single.options.port}`;
  }

  function adoptCutoff(value: number, detail: object): void {
    if (mode === 'ignore' || value <= cutoff) return;
    cutoff = value;
    options.onCutoff?.(cutoff);
    logger?.warn(
      { ...detail, cutoff: new Date(cutoff * 1000).toISOString() },
      'refusing every token issued before the cutoff: Redis lost revocations (REDIS_DATA_LOSS=refuse-old-tokens)',
    );
  }

  async function ensure(marker: string, raise: boolean): Promise<void> {
    const epoch = randomBytes(8).toString('hex');
    const [markerEpoch, seq, markerCutoff] = await client.grEnsureMarker(marker, epoch, cutoff, raise && mode !== 'ignore' ? '1' : '0');
    const before = seen.get(marker);
    seen.set(marker, { epoch: String(markerEpoch), seq: Math.max(Number(seq), before && before.epoch === String(markerEpoch) ? before.seq : 0) });
    adoptCutoff(Number(markerCutoff), { marker });
  }

  async function lost(marker: string, reason: string): Promise<void> {
    const shard = shardOf(marker);
    options.onLoss?.(shard, reason);
    logger?.error(
      { shard, marker, reason, mode },
      mode === 'ignore'
        ? 'Redis lost the data behind revocations on this shard: revoked tokens may be accepted again (REDIS_DATA_LOSS=ignore)'
        : 'Redis lost the data behind revocations on this shard: refusing every token issued before now, on every instance',
    );
    seen.delete(marker);
    pendingLoss.add(marker);
    await ensure(marker, true);
    pendingLoss.delete(marker);
  }

  async function inspect(marker: string, reply: (string | null)[]): Promise<boolean> {
    const [epoch, seqText, cutoffText] = reply;
    const known = seen.get(marker);
    if (pendingLoss.has(marker)) {
      await ensure(marker, true);
      pendingLoss.delete(marker);
      return true;
    }
    if (epoch === null || epoch === undefined) {
      if (known) await lost(marker, 'the marker is gone: the shard was emptied (FLUSHALL, a restart without persistence, a failover to an empty replica, eviction)');
      else {
        // Never seen here: a new deployment, a new master, or a marker newly chosen after slots moved.
        if (!ready) logger?.warn({ marker, shard: shardOf(marker) }, 'no data marker on this Redis shard: first start on it, or its data was lost while no instance ran (that cannot be detected); creating it');
        await ensure(marker, false);
      }
      return true;
    }
    const seq = Number(seqText ?? 0);
    const markerCutoff = Number(cutoffText ?? 0);
    if (known && known.epoch !== epoch) {
      if (mode !== 'ignore' && markerCutoff > cutoff) {
        // Another instance noticed first and recorded the cutoff: the same loss, adopted as is.
        const shard = shardOf(marker);
        options.onLoss?.(shard, 'recorded by another instance');
        logger?.error({ shard, marker, mode }, 'Redis lost the data behind revocations on this shard (noticed first by another instance): refusing every token issued before its cutoff');
        seen.set(marker, { epoch, seq });
        adoptCutoff(markerCutoff, { marker, shard });
        return true;
      }
      await lost(marker, 'the marker was re-created: the shard was emptied and another instance noticed first');
      return true;
    }
    if (known && seq < known.seq) {
      await lost(marker, `the shard's write sequence went back from ${known.seq} to ${seq}: a failover to a replica that missed acknowledged writes`);
      return true;
    }
    seen.set(marker, { epoch, seq: Math.max(seq, known?.seq ?? 0) });
    adoptCutoff(markerCutoff, { marker, shard: shardOf(marker), recordedBy: 'another instance' });
    // Spread the cutoff to every shard, so an instance started later finds it wherever it reads.
    if (mode !== 'ignore' && markerCutoff < cutoff) await ensure(marker, false);
    return true;
  }

  async function runCheck(): Promise<void> {
    chosenMarkers = markersByShard();
    const markers = new Set([...chosenMarkers.values(), ...seen.keys(), ...pendingLoss]);
    const results = await Promise.all(
      [...markers].map(async (marker) => {
        try {
          const reply = (await client.hmget(marker, 'epoch', 'seq', 'cutoff')) as (string | null)[];
          return await inspect(marker, reply);
        } catch {
          // An unreachable shard is not a lost one: lookups there fail (503) until it is back.
          return false;
        }
      }),
    );
    if (results.some(Boolean)) {
      verified = true;
      if (!ready) {
        ready = true;
        markFirstCheck();
      }
    }
  }

  const watcher: DataLossWatcher = {
    get cutoffSeconds() {
      return cutoff;
    },
    get ready() {
      return ready && verified;
    },
    firstCheck,
    check() {
      // One check at a time: a slow Redis must not pile them up.
      running ??= runCheck().finally(() => {
        running = undefined;
      });
      return running;
    },
    async acknowledgeWrite(key) {
      let marker = keys.shardMarker(0);
      if (isCluster(client)) {
        const owner = client.slots[keySlot(key)]?.[0];
        if (owner && !chosenMarkers.has(owner)) chosenMarkers = markersByShard();
        const chosen = owner ? chosenMarkers.get(owner) : undefined;
        if (!chosen) return;
        marker = chosen;
      }
      const seq = await client.hincrby(marker, 'seq', 1);
      const known = seen.get(marker);
      if (known && seq > known.seq) known.seq = seq;
    },
    start() {
      if (timer) return;
      void watcher.check();
      timer = setInterval(() => void watcher.check(), intervalMs);
      timer.unref();
      // A single node or Sentinel client: every reconnection is checked before tokens are
      // served again. (A Cluster client reconnects node by node without telling.)
      if (!isCluster(client)) {
        client.on('close', onClose);
        client.on('ready', onReady);
      }
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      client.off('close', onClose);
      client.off('ready', onReady);
    },
  };
  const onClose = () => {
    verified = false;
  };
  const onReady = () => void watcher.check();
  return watcher;
}
