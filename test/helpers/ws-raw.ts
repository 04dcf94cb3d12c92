/**
 * A raw `graphql-transport-ws` client on `ws`, for hostile tests: it sends exactly what it is
 * told (any text, any number of messages, from a chosen local address or with chosen headers)
 * and keeps every message and the close.
 */
import WebSocket from 'ws';

/** How a socket ended. */
export interface RawClose {
  code: number;
  reason: string;
}

/** One raw socket. */
export interface RawSocket {
  ws: WebSocket;
  /** Every message received, parsed. */
  messages: Array<{ type: string; id?: string; payload?: unknown }>;
  /** Resolves with the close, whoever closed. */
  closed: Promise<RawClose>;
  /** The close once it happened. */
  readonly close: RawClose | undefined;
  send(message: string | object): void;
  /** Resolves with the first message (already received or to come) that `match` accepts; rejects on close or after `ms`. */
  next(match: (message: { type: string; id?: string; payload?: unknown }) => boolean, ms?: number): Promise<{ type: string; id?: string; payload?: unknown }>;
  terminate(): void;
}

/** Options of {@link openRaw}. */
export interface RawOptions {
  /** The local address to connect from (a 127.0.0.x loopback alias). */
  localAddress?: string;
  headers?: Record<string, string>;
}

/** Opens a socket speaking graphql-transport-ws; resolves once open (rejects if the upgrade fails). */
export function openRaw(url: string, options: RawOptions = {}): Promise<RawSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'graphql-transport-ws', {
      perMessageDeflate: false,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      ...(options.headers ? { headers: options.headers } : {}),
    });
    const messages: RawSocket['messages'] = [];
    const waiters = new Set<() => void>();
    let close: RawClose | undefined;
    const closed = new Promise<RawClose>((done) => {
      ws.on('close', (code, reason) => {
        close = { code, reason: String(reason) };
        done(close);
        for (const wake of waiters) wake();
      });
    });
    ws.on('error', (error) => {
      if (ws.readyState === WebSocket.CONNECTING || !close) reject(error);
    });
    ws.on('message', (data) => {
      let message: { type: string; id?: string; payload?: unknown };
      try {
        message = JSON.parse(String(data)) as typeof message;
      } catch {
        return;
      }
      if (message.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
      messages.push(message);
      for (const wake of waiters) wake();
    });
    const socket: RawSocket = {
      ws,
      messages,
      closed,
      get close() {
        return close;
      },
      send(message) {
        ws.send(typeof message === 'string' ? message : JSON.stringify(message));
      },
      next(match, ms = 10_000) {
        return new Promise((done, fail) => {
          let timer: NodeJS.Timeout | undefined;
          const check = () => {
            const found = messages.find(match);
            if (found) {
              waiters.delete(check);
              clearTimeout(timer);
              done(found);
            } else if (close) {
              waiters.delete(check);
              clearTimeout(timer);
              fail(Object.assign(new Error(`socket closed with ${close.code} (${close.reason})`), { close }));
            }
          };
          timer = setTimeout(() => {
            waiters.delete(check);
            fail(new Error(`no matching message within ${ms} ms`));
          }, ms);
          waiters.add(check);
          check();
        });
      },
      terminate() {
        ws.terminate();
      },
    };
    ws.once('open', () => resolve(socket));
  });
}

/** Opens a socket and sends connection_init (with `Bearer token` when given); resolves on connection_ack, rejects with the close. */
export async function initRaw(url: string, token?: string, options: RawOptions = {}): Promise<RawSocket> {
  const socket = await openRaw(url, options);
  socket.send({ type: 'connection_init', payload: token ? { authorization: `Bearer ${token}` } : {} });
  await socket.next((m) => m.type === 'connection_ack');
  return socket;
}
