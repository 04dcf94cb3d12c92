/**
 * Reading a request body within a bound, and answering with JSON: shared by every HTTP entry
 * (the GraphQL endpoint, the OAuth endpoints, the probes), so a body limit is enforced the same
 * way wherever an attacker sends one.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Raised when a request body can't be read: answered with `status` and a plain message. */
export class BodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Reads the body up to `limit` bytes; a larger one is a 413, without buffering the rest. */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(new BodyError(413, `Request body larger than ${limit} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyError(413, `Request body larger than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    req.on('error', (error) => reject(new BodyError(400, `Request body could not be read: ${error.message}`)));
  });
}

/** Sends a JSON body with `status`. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(payload), ...headers });
  res.end(payload);
}

/** Sends a GraphQL-shaped error body: `{ errors: [{ message, extensions: { code } }] }`. */
export function sendGraphQLError(res: ServerResponse, status: number, message: string, code: string): void {
  sendJson(res, status, { errors: [{ message, extensions: { code } }] });
}
