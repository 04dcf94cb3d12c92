import { createServer } from 'node:net';

/**
 * Asks the kernel for a TCP port that is free on 127.0.0.1 right now.
 *
 * The port is released before this resolves, so another process can take it
 * before the caller binds it: callers that start servers should retry on
 * "address already in use" (startRedisServer does).
 */
export function getFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`getFreePort: unexpected listen address ${String(address)}`));
        return;
      }
      const { port } = address;
      server.close((error) => (error ? reject(error) : resolve(port)));
    });
  });
}
