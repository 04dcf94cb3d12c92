import type { Cluster, Redis } from 'ioredis';

/**
 * A connected ioredis client: a single node, a Sentinel-managed primary or a Cluster. Its own
 * module at the bottom of src/redis/, so that every store and safeguard can name it without
 * importing a store (it used to live in revocation/redis-store.ts, which made a circle with
 * the command wrapper).
 */
export type RedisClient = Redis | Cluster;
