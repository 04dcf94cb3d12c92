import { createServer as createHttpServer, type Server } from 'node:http';
import type { Metrics } from '../metrics.js';
import { sendJson } from './http-graphql.js';
import { listenOn } from './listen.js';

/** Options of {@link createMetricsListener}. */
export interface MetricsListenerOptions {
  metrics: Metrics;
  /** Told of a failed render (the scrape gets a 500). */
  onError?: (error: unknown) => void;
}

/** The Prometheus endpoint on a port of its own. */
export interface MetricsListener {
  readonly httpServer: Server;
  /** Listens (default host 127.0.0.1) and resolves with the URL of the metrics endpoint. */
  listen(port: number, host?: string): Promise<{ url: string; port: number }>;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` (Prometheus text format) and nothing else: another method is a 405,
 * another path a 404. Kept apart from the API port so that the API's clients, anonymous ones
 * included, never reach it: bind it to loopback or to a network only the scraper is on.
 */
export function createMetricsListener(options: MetricsListenerOptions): MetricsListener {
  const httpServer = createHttpServer({ headersTimeout: 5000, requestTimeout: 10_000 }, (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (path !== '/metrics') return sendJson(res, 404, { error: 'Not found. Metrics are served at /metrics.' });
    if (req.method !== 'GET') {
      res.setHeader('allow', 'GET');
      return sendJson(res, 405, { error: 'Only GET is supported' });
    }
    options.metrics.render().then(
      ({ contentType, body }) => {
        res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
        res.end(body);
      },
      (error: unknown) => {
        options.onError?.(error);
        sendJson(res, 500, { error: 'Metrics could not be rendered' });
      },
    );
  });
  httpServer.keepAliveTimeout = 5000;
  httpServer.maxConnections = 64;
  return {
    httpServer,
    listen(port, host = '127.0.0.1') {
      return listenOn(httpServer, port, host, '/metrics');
    },
    close() {
      return new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        httpServer.closeIdleConnections();
      });
    },
  };
}
