import type { Server, ServerOptions } from 'node:http';
import type { HttpLimits } from '../config/index.js';
import type { Logger } from '../logger.js';

/**
 * node:http's options for {@link HttpLimits}: what a slow or idle client may hold.
 * - headersTimeout / requestTimeout: a client that has not sent its headers (or its whole
 *   request) in time gets a 408 and its socket closed. Node checks them every
 *   `connectionsCheckingInterval` (30 s by default, which is how a 60 s limit became 69 s):
 *   here a quarter of the headers timeout, at most 1 s.
 * - maxHeaderSize: larger headers get a 431 before any of our code runs.
 */
export function httpServerOptions(limits: HttpLimits): ServerOptions {
  return {
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
  };
}

/**
 * Sets what the constructor does not take: the idle keep-alive timeout and the connection cap
 * (`server.maxConnections`: a connection above it is closed as soon as it is accepted, so a
 * flood of slow sockets costs the process no more than the cap in file descriptors, and the
 * connections already open keep being served). Dropped connections are logged at most every
 * 10 s, with their count.
 */
export function applyHttpLimits(server: Server, limits: HttpLimits, logger?: Pick<Logger, 'warn'>): void {
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.maxConnections = limits.maxConnections;
  let dropped = 0;
  let loggedAt = 0;
  server.on('drop', () => {
    dropped += 1;
    const at = Date.now();
    if (at - loggedAt < 10_000) return;
    loggedAt = at;
    logger?.warn({ maxConnections: limits.maxConnections, droppedSinceLastLine: dropped }, 'connection refused: HTTP_MAX_CONNECTIONS reached');
    dropped = 0;
  });
}
