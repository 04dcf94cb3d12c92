/**
 * A real Redis Cluster for tests: N masters, no replicas, all on free
 * loopback ports, created with `redis-cli --cluster create`.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { getFreePort } from './free-port.js';
import {
  LOOPBACK_HOST,
  parseInfo,
  redisCommand,
  redisServerArgs,
  startRedisProcess,
  type RedisAddress,
  type RedisServerProcess,
} from './redis-server.js';
import { waitFor } from './wait-for.js';

const execFileAsync = promisify(execFile);

const TOTAL_SLOTS = 16_384;
const CREATE_TIMEOUT_MS = 30_000;
const CONVERGE_TIMEOUT_MS = 20_000;

/** Options of {@link startRedisCluster}. */
export interface StartRedisClusterOptions {
  /** Number of masters; redis-cli needs at least 3. Default 3. */
  masters?: number;
  /** AOF on every node (fsync always); default false, as cluster tests are about routing, not durability. */
  appendonly?: boolean;
}

/** A running cluster. */
export interface RedisClusterProcess {
  /** Every master's address, e.g. for ioredis `new Cluster(nodes)`. */
  nodes: RedisAddress[];
  /** The node processes, to kill or restart one. */
  processes: RedisServerProcess[];
  /** Stops every node and removes their directories. */
  stop(): Promise<void>;
}

/**
 * Starts `masters` cluster-enabled servers, joins them with
 * `redis-cli --cluster create`, and resolves once every node reports
 * `cluster_state:ok` with all 16384 slots assigned and every node known.
 */
export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisClusterProcess> {
  const masters = options.masters ?? 3;
  if (!Number.isInteger(masters) || masters < 3) {
    throw new Error(`startRedisCluster: masters must be an integer >= 3 (redis-cli refuses fewer), got ${masters}`);
  }
  const appendonly = options.appendonly ?? false;

  const started = await Promise.allSettled(
    Array.from({ length: masters }, () => startClusterNode(appendonly)),
  );
  const processes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const stop = async (): Promise<void> => {
    await Promise.all(processes.map((node) => node.cleanup()));
  };
  const failure = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failure) {
    await stop();
    throw failure.reason;
  }

  const nodes = processes.map((node) => ({ host: node.host, port: node.port }));
  try {
    await createCluster(nodes);
    await Promise.all(nodes.map((node) => waitForClusterOk(node, masters)));
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes, processes, stop };
}

function startClusterNode(appendonly: boolean): Promise<RedisServerProcess> {
  // The bus port defaults to port + 10000, which may be taken or above 65535
  // for a port from the ephemeral range; Redis 7's cluster-port lets us pick
  // a free one. Remembered per port so a restart() keeps the bus port that
  // the other nodes have in their nodes.conf.
  const busPorts = new Map<number, number>();
  return startRedisProcess({
    label: 'redis-cluster',
    buildArgs: async (context) => {
      let busPort = busPorts.get(context.port);
      if (busPort === undefined) {
        busPort = await getFreePort();
        busPorts.set(context.port, busPort);
      }
      return [
        ...redisServerArgs(context, appendonly),
        '--cluster-enabled', 'yes',
        '--cluster-config-file', 'nodes.conf',
        '--cluster-node-timeout', '2000',
        '--cluster-port', String(busPort),
      ];
    },
  });
}

async function createCluster(nodes: RedisAddress[]): Promise<void> {
  const args = [
    '--cluster', 'create',
    ...nodes.map((node) => `${node.host}:${node.port}`),
    '--cluster-replicas', '0',
    '--cluster-yes',
  ];
  try {
    await execFileAsync('redis-cli', args, { timeout: CREATE_TIMEOUT_MS });
  } catch (error) {
    const { stdout = '', stderr = '', message } = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`redis-cli ${args.join(' ')} failed: ${message}\n${stdout}\n${stderr}`.trimEnd());
  }
}

async function waitForClusterOk(node: RedisAddress, masters: number): Promise<void> {
  let last = '';
  await waitFor(
    `cluster_state:ok on ${LOOPBACK_HOST}:${node.port}`,
    CONVERGE_TIMEOUT_MS,
    async () => {
      last = String(await redisCommand(node, 'CLUSTER', ['INFO']));
      const info = parseInfo(last);
      // Every node must know all slots and all peers, or a client that asks
      // this node for CLUSTER SLOTS gets a partial map.
      const ok =
        info.get('cluster_state') === 'ok' &&
        info.get('cluster_slots_assigned') === String(TOTAL_SLOTS) &&
        info.get('cluster_known_nodes') === String(masters);
      return ok ? true : undefined;
    },
    () => `last CLUSTER INFO:\n${last}`,
  );
}
