/**
 * The ws transport adapter of the live endpoint (as graphql-ws's own `use/ws.ts`): HTTP
 * upgrades on one path, the socket's framing handed to the graphql-ws core server, close
 * codes, keep-alive, shutdown. What a socket may do is the guard's; what its messages mean is
 * the core server's.
 *
 * - An upgrade to another path gets 404, one during shutdown 503; a socket past the guard's
 *   caps, or opened during shutdown, is refused before any state is kept for it (it only waits
 *   for the peer's close frame, 1 s at most).
 * - Keep-alive pings run from one process-wide timer, not a timer per socket, spread over the
 *   interval (a slice of the sockets a tick): a socket that did not answer the previous ping is
 *   terminated.
 * - A message whose handling throws (a bug, not the client's doing) is logged and closes its
 *   socket with 4500.
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { CloseCode, handleProtocols, type Server } from 'graphql-ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Clock } from '../auth/token.js';
import type { LiveCloseReason } from '../metrics.js';
import { addressKey } from '../server/client-address.js';
import { closeWs, newLiveSocket, REFUSED_CLOSE_GRACE_MS, sendOn, type Extra, type LiveSocket, type LiveWsContext, type Shut } from './live-socket.js';
import type { SocketGuard } from './socket-guard.js';

/** Options of {@link createWsAdapter}. */
export interface WsAdapterOptions {
  /** The graphql-ws core server (makeServer) the sockets are handed to. */
  server: Server<Extra>;
  guard: SocketGuard;
  shut: Shut;
  path: string;
  maxPayloadBytes: number;
  /** ms between keep-alive pings; 0: none. */
  keepAliveMs: number;
  /** Operations per second (a new socket's full bucket). */
  maxOperationsPerSecond: number;
  clientAddress?: ((request: IncomingMessage) => string) | undefined;
  /** Takes a message instead of the core server (the subscription fast path); false: not taken. */
  takeMessage?: ((ctx: LiveWsContext, text: string, handle: (message: string) => void) => boolean) | undefined;
  /** A closed socket: what else keeps state about it forgets it. */
  onClosed(socket: LiveSocket): void;
  metrics?: { recordLiveSocketOpened(): void; recordLiveSocketClosed(reason: LiveCloseReason): void } | undefined;
  logger?: { debug(object: object, message: string): void; error(object: object, message: string): void } | undefined;
  now: Clock;
}

/** The adapter of one live endpoint. */
export interface WsAdapter {
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  attach(server: HttpServer): void;
  readonly closing: boolean;
  /** Refuses new sockets, closes every open one with 1001 and waits (at most `graceMs`) for them to go. */
  close(graceMs: number): Promise<void>;
}

/** A message's handling threw (a bug, not the client's doing): logged, and the socket closed 4500. */
export function failedMessage(socket: LiveSocket, error: unknown, logger: WsAdapterOptions['logger']): void {
  logger?.error({ err: error }, 'error while handling a live message');
  socket.closedBy ??= 'protocol';
  socket.ws.close(CloseCode.InternalServerError, 'Internal server error');
}

/** Refused before any state is kept: the socket only waits for the peer's close frame. */
function refuse(ws: WebSocket, code: number, reason: string, why: LiveCloseReason, metrics: WsAdapterOptions['metrics']): void {
  ws.on('error', () => {});
  ws.once('close', () => metrics?.recordLiveSocketClosed(why));
  closeWs(ws, code, reason, REFUSED_CLOSE_GRACE_MS);
}

/** Hands the socket's framing to the core server; returns its close callback. */
function open(socket: LiveSocket, options: WsAdapterOptions): (code: number, reason: string) => Promise<void> {
  const { ws } = socket;
  const handle = (message: string, callback: (message: string) => Promise<void>) => callback(message).catch((error: unknown) => failedMessage(socket, error, options.logger));
  return options.server.opened(
    {
      protocol: ws.protocol,
      send: (data) => sendOn(ws, data),
      close: (code, reason) => {
        // graphql-ws's own closes: protocol violations and the init timeout.
        socket.closedBy ??= code === CloseCode.Forbidden ? 'refused' : 'protocol';
        ws.close(code, reason);
      },
      onMessage: (callback) =>
        ws.on('message', (data, isBinary) => {
          const text = options.guard.checkMessage(socket, data, isBinary);
          if (text === undefined) return;
          const take = (message: string) => void handle(message, callback);
          if (!socket.wsContext || !options.takeMessage?.(socket.wsContext, text, take)) take(text);
        }),
    },
    { live: socket },
  );
}

/** A socket the guard admitted: its state, its listeners, and its hand-over to the core server. */
function serve(ws: WebSocket, address: string | undefined, key: string, request: IncomingMessage, options: WsAdapterOptions): void {
  const { guard, metrics, logger } = options;
  const now = options.now();
  const socket = newLiveSocket({ ws, address, addressKey: key, userAgent: request.headers['user-agent'], bucket: options.maxOperationsPerSecond, now });
  guard.admit(socket);
  ws.on('pong', () => {
    socket.alive = true;
  });
  ws.on('error', (error) => {
    // ws closes the socket itself (1002, 1009 ...) after an error of the peer's.
    socket.closedBy ??= 'protocol';
    logger?.debug({ err: { message: error.message } }, 'live socket error');
  });
  const closed = open(socket, options);
  ws.once('close', (code, reason) => {
    guard.release(socket);
    options.onClosed(socket);
    metrics?.recordLiveSocketClosed(socket.closedBy ?? 'client');
    closed(code, reason.toString()).catch((error: unknown) => logger?.error({ err: error }, 'error while completing live subscriptions'));
  });
}

/** Slices a keep-alive pass is cut into: each tick pings one slice of the sockets. */
export const KEEPALIVE_SLICES = 24;

/** The part of a socket the keep-alive reads and writes. */
export type KeptAliveSocket = Pick<LiveSocket, 'alive'> & { ws: Pick<WebSocket, 'readyState' | 'OPEN' | 'ping' | 'terminate'> };

/**
 * One timer for every socket (no timer per socket): each socket is pinged once a pass, and a
 * socket that did not answer its previous ping (a pass, ~`intervalMs`, ago) is terminated.
 *
 * A pass is spread over `intervalMs` in KEEPALIVE_SLICES ticks, each pinging its share of the
 * sockets open then, rather than every socket in one callback: pinging 10,000 sockets at once
 * held the event loop ~110 ms (a write per socket, profiled in bench:ws, issue 19), every HTTP
 * request and live message of the instance waiting behind it every `intervalMs`. The pass
 * walks the set with one iterator: a socket opened during a pass is reached in it, one closed is
 * skipped, and the next pass starts on the tick after the last socket.
 */
export function startKeepAlive(sockets: ReadonlySet<KeptAliveSocket>, intervalMs: number): NodeJS.Timeout | undefined {
  if (intervalMs <= 0) return undefined;
  const slices = Math.max(1, Math.min(KEEPALIVE_SLICES, Math.floor(intervalMs / 10)));
  let pass: Iterator<KeptAliveSocket> | undefined;
  return setInterval(() => {
    pass ??= sockets.values();
    for (let share = Math.ceil(sockets.size / slices); share > 0; share -= 1) {
      const next = pass.next();
      if (next.done) {
        pass = undefined;
        return;
      }
      const socket = next.value;
      if (socket.ws.readyState !== socket.ws.OPEN) continue;
      if (!socket.alive) {
        socket.ws.terminate();
        continue;
      }
      socket.alive = false;
      socket.ws.ping();
    }
  }, intervalMs / slices).unref();
}

/** The HTTP answer that refuses an upgrade (another path: 404; shutting down: 503), or undefined. */
function upgradeRefusal(url: string, path: string, closing: boolean): string | undefined {
  const q = url.indexOf('?');
  if ((q === -1 ? url : url.slice(0, q)) !== path) return 'HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n';
  if (closing) return 'HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\nretry-after: 1\r\ncontent-length: 0\r\n\r\n';
  return undefined;
}

/** Closes every socket with 1001 and waits (at most `graceMs`) for them to go; a peer that does not answer is cut off. */
async function closeAll(sockets: ReadonlySet<LiveSocket>, shut: Shut, graceMs: number): Promise<void> {
  const open = [...sockets];
  for (const socket of open) shut(socket, 1001, 'Going away', 'shutdown');
  const gone = Promise.all(open.map((s) => (s.ws.readyState === s.ws.CLOSED ? undefined : new Promise((resolve) => s.ws.once('close', resolve)))));
  let timer: NodeJS.Timeout | undefined;
  const late = await Promise.race([gone.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs)))]);
  clearTimeout(timer);
  if (late) for (const socket of sockets) socket.ws.terminate();
}

/** Builds the adapter; keep-alive starts at once (unref'd). */
export function createWsAdapter(options: WsAdapterOptions): WsAdapter {
  const { guard, metrics } = options;
  let closing = false;
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols,
    maxPayload: options.maxPayloadBytes,
    // Compression state costs ~300 KB per socket at the defaults: off.
    perMessageDeflate: false,
  });
  wss.on('connection', (ws: WebSocket, request: IncomingMessage) => {
    const address = options.clientAddress ? options.clientAddress(request) : undefined;
    const key = addressKey(address ?? request.socket.remoteAddress ?? 'unknown');
    metrics?.recordLiveSocketOpened();
    if (closing) return refuse(ws, 1001, 'Going away', 'shutdown', metrics);
    const refusal = guard.refusal(key);
    if (refusal) return refuse(ws, refusal.code, refusal.reason, 'capacity', metrics);
    serve(ws, address, key, request, options);
  });
  const keepAliveTimer = startKeepAlive(guard.sockets, options.keepAliveMs);

  function handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refused = upgradeRefusal(request.url ?? '/', options.path, closing);
    if (refused) return void socket.end(refused);
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  }

  return {
    handleUpgrade,
    attach(httpServer) {
      httpServer.on('upgrade', handleUpgrade);
    },
    get closing() {
      return closing;
    },
    async close(graceMs) {
      closing = true;
      if (keepAliveTimer) clearInterval(keepAliveTimer);
      await closeAll(guard.sockets, options.shut, graceMs);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
