/**
 * Redis' eviction policy and memory use, read from `INFO memory` (allowed where CONFIG is
 * not, e.g. on managed Redis).
 *
 * Why: with `maxmemory` and a `volatile-*` policy, the revoked-token sets are almost the
 * only keys with a TTL, so they are what Redis evicts first, and a revoked token works
 * again. With `noeviction` a full Redis refuses writes instead: a revocation then fails
 * (503 to the caller) and is never silently lost. So in production the API refuses to
 * start unless the policy is `noeviction` or one the operator allowed explicitly
 * (REDIS_ALLOW_EVICTION_POLICY), with a warning at every start; /readyz reads it again.
 */
import type { Cluster, Redis } from 'ioredis';
import type { RedisClient } from '../redis/redis-client-type.js';

/** One master's memory figures. */
export interface RedisMemoryReport {
  /** `host:port` of the node. */
  node: string;
  usedBytes: number;
  /** `maxmemory`; 0 means no limit. */
  maxBytes: number;
  /** `maxmemory-policy`. */
  policy: string;
}

/** The policy that never loses a key to memory pressure. */
export const SAFE_EVICTION_POLICY = 'noeviction';

function masters(client: RedisClient): Redis[] {
  return (client as Cluster).isCluster ? (client as Cluster).nodes('master') : [client as Redis];
}

function field(info: string, name: string): string | undefined {
  const match = new RegExp(`^${name}:(.*)$`, 'm').exec(info);
  return match?.[1]?.trim();
}

/** `INFO memory` of every master (one on a single node or Sentinel). Rejects if one fails. */
export async function readRedisMemory(client: RedisClient): Promise<RedisMemoryReport[]> {
  const nodes = masters(client);
  return Promise.all(
    nodes.map(async (node) => {
      const info = await node.info('memory');
      return {
        node: `${node.options.host}:${node.options.port}`,
        usedBytes: Number(field(info, 'used_memory') ?? 0),
        maxBytes: Number(field(info, 'maxmemory') ?? 0),
        policy: field(info, 'maxmemory_policy') ?? 'unknown',
      };
    }),
  );
}

/** What {@link evaluateEvictionPolicy} concluded. */
export type EvictionVerdict =
  | { kind: 'safe'; policies: string[] }
  | { kind: 'allowed'; policies: string[] }
  | { kind: 'unsafe'; policies: string[]; nodes: string[] };

/** Is every master's policy `noeviction`, or one of `allowed`? */
export function evaluateEvictionPolicy(reports: readonly RedisMemoryReport[], allowed: readonly string[]): EvictionVerdict {
  const policies = [...new Set(reports.map((report) => report.policy))];
  const bad = reports.filter((report) => report.policy !== SAFE_EVICTION_POLICY && !allowed.includes(report.policy));
  if (bad.length > 0) return { kind: 'unsafe', policies, nodes: bad.map((report) => `${report.node} (${report.policy})`) };
  return policies.every((policy) => policy === SAFE_EVICTION_POLICY) ? { kind: 'safe', policies } : { kind: 'allowed', policies };
}

/** Where the guard logs. */
export interface EvictionLogger {
  error(object: object, message: string): void;
  warn(object: object, message: string): void;
  info(object: object, message: string): void;
}

/** Options of {@link createEvictionPolicyGuard}. */
export interface EvictionPolicyGuardOptions {
  client: RedisClient;
  /** REDIS_ALLOW_EVICTION_POLICY: policies accepted besides noeviction. */
  allowed: readonly string[];
  /** In production an unsafe policy is refused (onRefuse); elsewhere it is a warning. */
  production: boolean;
  logger?: EvictionLogger;
  /** Called in production when the policy is unsafe at the first check (start, or first connection). */
  onRefuse?: (message: string) => void;
}

/** The guard: checks at every (re)connection, and for /readyz. */
export interface EvictionPolicyGuard {
  /** Resolves after the first check that got an answer. */
  readonly firstCheck: Promise<EvictionVerdict>;
  /** For /readyz, in production: undefined when fine, else why not ready. Rejects if Redis does not answer. */
  readiness(): Promise<string | undefined>;
  stop(): void;
}

/** Starts checking at the first 'ready' (Redis may be down when the API starts). */
export function createEvictionPolicyGuard(options: EvictionPolicyGuardOptions): EvictionPolicyGuard {
  const { client, logger, allowed } = options;
  let markFirst: (verdict: EvictionVerdict) => void = () => {};
  let first = true;
  const firstCheck = new Promise<EvictionVerdict>((resolve) => {
    markFirst = resolve;
  });

  const unsafeMessage = (verdict: Extract<EvictionVerdict, { kind: 'unsafe' }>) =>
    `Redis maxmemory-policy is not noeviction on ${verdict.nodes.join(', ')}: under memory pressure Redis would evict revocations and revoked tokens would work again. Set maxmemory-policy noeviction (a full Redis then refuses writes: 503), or allow this policy explicitly with REDIS_ALLOW_EVICTION_POLICY.`;

  const check = async () => {
    let reports: RedisMemoryReport[];
    try {
      reports = await readRedisMemory(client);
    } catch {
      return; // the connection dropped: the next 'ready' checks again
    }
    if (reports.length === 0) return;
    const verdict = evaluateEvictionPolicy(reports, allowed);
    const detail = { policies: verdict.policies, allowed };
    if (verdict.kind === 'unsafe') {
      const message = unsafeMessage(verdict);
      logger?.error(detail, message);
      // At start only: later (a failover to a node configured otherwise) /readyz says it.
      if (options.production && first) options.onRefuse?.(message);
    } else if (verdict.kind === 'allowed') {
      // At every start (and reconnection): an evicting policy is a standing risk.
      logger?.warn(detail, `Redis maxmemory-policy ${verdict.policies.join(', ')} is allowed by REDIS_ALLOW_EVICTION_POLICY: Redis may evict revocations under memory pressure, and revoked tokens would work again`);
    } else if (first) {
      logger?.info(detail, 'Redis maxmemory-policy: noeviction');
    }
    if (first) {
      first = false;
      markFirst(verdict);
    }
  };
  const onReady = () => void check();
  client.on('ready', onReady);
  if (client.status === 'ready') void check();

  return {
    firstCheck,
    async readiness() {
      if (!options.production) return undefined;
      const reports = await readRedisMemory(client);
      const verdict = evaluateEvictionPolicy(reports, allowed);
      return verdict.kind === 'unsafe' ? `Redis maxmemory-policy is unsafe on ${verdict.nodes.join(', ')}` : undefined;
    },
    stop() {
      client.off('ready', onReady);
    },
  };
}
