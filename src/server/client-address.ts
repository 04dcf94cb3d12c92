import type { IncomingMessage } from 'node:http';

/**
 * The client's address. With `trustedProxyHops` = 0 (the default) it is the socket's remote
 * address, and X-Forwarded-For is ignored: any client can write that header. With N trusted
 * proxies in front of the API, each appending the address it saw, the client is the N-th
 * address from the right of [X-Forwarded-For..., socket address] (as Express's
 * `trust proxy = N`); a shorter chain gives its leftmost entry.
 */
export function clientAddress(req: Pick<IncomingMessage, 'socket' | 'headers'>, trustedProxyHops: number): string {
  const socketAddress = req.socket.remoteAddress ?? 'unknown';
  if (trustedProxyHops <= 0) return socketAddress;
  const header = req.headers['x-forwarded-for'];
  if (header === undefined) return socketAddress;
  const forwarded = (Array.isArray(header) ? header.join(',') : header)
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  const chain = [...forwarded, socketAddress];
  const index = Math.max(0, chain.length - 1 - trustedProxyHops);
  // Bounded: the value becomes part of a Redis key.
  return (chain[index] as string).slice(0, 64);
}
