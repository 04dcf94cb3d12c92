/**
 * The graphql-ws client over real sockets (`ws` as the WebSocket), as a browser app would use
 * it, with the close event and its time kept for assertions.
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

/** How a socket ended. */
export interface LiveClose {
  code: number;
  reason: string;
  /** performance.now() when the client saw the close. */
  at: number;
}

/** One client connection and what happened to it. */
export interface LiveConnection {
  client: Client;
  /** Resolves once connection_ack arrived; rejects with the close if the socket closed first. */
  connected: Promise<void>;
  /** Resolves with the close (whoever closed). */
  closed: Promise<LiveClose>;
  /** The close, if it happened. */
  readonly close: LiveClose | undefined;
  /** Starts a subscription; `next` collects its results. */
  subscribe(query: string, variables?: Record<string, unknown>): LiveSubscription;
  dispose(): Promise<void>;
}

/** One subscription's results. */
export interface LiveSubscription {
  results: unknown[];
  errors: unknown[];
  completed: boolean;
  /** Resolves with the first result. */
  first: Promise<unknown>;
  /** Resolves when the subscription ends (complete or error). */
  ended: Promise<void>;
  unsubscribe(): void;
}

/**
 * Connects to `url` (ws://…/graphql) with `authorization` in connectionParams (or none),
 * without retries: each test sees exactly the close the server chose.
 */
export function openLive(url: string, token?: string, params?: Record<string, unknown>): LiveConnection {
  let close: LiveClose | undefined;
  let resolveClosed!: (close: LiveClose) => void;
  const closed = new Promise<LiveClose>((resolve) => (resolveClosed = resolve));
  let resolveConnected!: () => void;
  let rejectConnected!: (error: unknown) => void;
  const connected = new Promise<void>((resolve, reject) => {
    resolveConnected = resolve;
    rejectConnected = reject;
  });
  connected.catch(() => {});
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    onNonLazyError: () => {},
    connectionParams: params ?? (token ? { authorization: `Bearer ${token}` } : {}),
    on: {
      connected: () => resolveConnected(),
      closed: (event) => {
        const e = event as { code: number; reason: string };
        close = { code: e.code, reason: String(e.reason), at: performance.now() };
        rejectConnected(close);
        resolveClosed(close);
      },
    },
  });
  return {
    client,
    connected,
    closed,
    get close() {
      return close;
    },
    subscribe(query, variables) {
      const results: unknown[] = [];
      const errors: unknown[] = [];
      let resolveFirst!: (value: unknown) => void;
      const first = new Promise<unknown>((resolve) => (resolveFirst = resolve));
      let resolveEnded!: () => void;
      const ended = new Promise<void>((resolve) => (resolveEnded = resolve));
      const subscription: LiveSubscription = {
        results,
        errors,
        completed: false,
        first,
        ended,
        unsubscribe: () => {},
      };
      subscription.unsubscribe = client.subscribe(
        { query, ...(variables ? { variables } : {}) },
        {
          next: (value) => {
            results.push(value);
            resolveFirst(value);
          },
          error: (error) => {
            errors.push(error);
            resolveEnded();
          },
          complete: () => {
            subscription.completed = true;
            resolveEnded();
          },
        },
      );
      return subscription;
    },
    async dispose() {
      await client.dispose();
    },
  };
}
