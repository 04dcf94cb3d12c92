import { request } from 'node:http';

/**
 * A POST with headers sent exactly as given: an array value becomes several header
 * lines (fetch would merge them into one), as a misbehaving client would send them.
 */
export function rawPost(
  url: string,
  body: string,
  headers: Record<string, string | string[]>,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
