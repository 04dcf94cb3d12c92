import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Listens on `host:port` and resolves with the URL of `path` on it (a wildcard host shown as
 * localhost, an IPv6 one in brackets) and the port actually bound (port 0: a free one).
 */
export function listenOn(httpServer: Server, port: number, host: string, path: string): Promise<{ url: string; port: number }> {
  return new Promise((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(port, host, () => {
      httpServer.off('error', reject);
      const address = httpServer.address() as AddressInfo;
      const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
      resolve({ url: `http://${shownHost}:${address.port}${path}`, port: address.port });
    });
  });
}
