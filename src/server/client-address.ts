import type { IncomingMessage } from 'node:http';
import { isIPv4, isIPv6 } from 'node:net';

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

/**
 * The key a per-address limit counts under: an IPv4 address as is (an IPv4-mapped IPv6 one
 * too), an IPv6 address by its /64 (one subscriber's LAN: a host gets a whole /64 and can
 * pick any address in it), anything else (a proxy's header that is no address) as is, bounded.
 */
export function addressKey(address: string): string {
  let text = address.trim().toLowerCase();
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  if (text.startsWith('::ffff:') && isIPv4(text.slice(7))) return text.slice(7);
  if (!isIPv6(text)) return text.slice(0, 64);
  const [head = '', tail = ''] = text.includes('::') ? text.split('::') : [text, ''];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  // An embedded IPv4 tail (::a.b.c.d) is two groups; only the first four groups matter here.
  const rightGroups = right.reduce((n, part) => n + (part.includes('.') ? 2 : 1), 0);
  const groups = text.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - rightGroups)).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => (g.includes('.') ? g : (parseInt(g || '0', 16) || 0).toString(16)))
    .join(':')}::/64`;
}
