import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer, type BaseContext, type HTTPGraphQLResponse } from '@apollo/server';
import { ErrorCode } from '../errors.js';
import { exceedsBytes } from '../graphql-limits/graphql-limits.js';
import { jsonTooDeep, MAX_JSON_DEPTH, type RequestPipeline } from '../pipeline/request-pipeline.js';
import { BodyError, readBody, sendGraphQLError } from '../pipeline/http-body.js';

/** Below, in the pipeline, so every HTTP area (OAuth, health) reads and answers bodies the same way. */
export { BodyError, readBody, sendGraphQLError, sendJson } from '../pipeline/http-body.js';

/**
 * Whether a query document of the request (the body's `query`, each one of a batch, or the
 * URL's `query` parameter) is longer than `maxBytes`: checked before Apollo hashes or parses it.
 */
export function documentTooLarge(body: unknown, search: string, maxBytes: number): boolean {
  const operations = Array.isArray(body) ? body : [body];
  for (const operation of operations) {
    const query = (operation as { query?: unknown } | null | undefined)?.query;
    if (typeof query === 'string' && exceedsBytes(query, maxBytes)) return true;
  }
  if (body === undefined && typeof search === 'string' && search.length > maxBytes) {
    const query = new URLSearchParams(search).get('query');
    if (query !== null && exceedsBytes(query, maxBytes)) return true;
  }
  return false;
}

/** Re-exported from the request pipeline, where both transports take them. */
export { jsonTooDeep, MAX_JSON_DEPTH } from '../pipeline/request-pipeline.js';

function toHeaderMap(req: IncomingMessage): HeaderMap {
  const headers = new HeaderMap();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return headers;
}

function isJson(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/(graphql-response\+)?json\b/i.test(contentType.trimStart());
}

/**
 * Runs one HTTP request through Apollo Server (its documented integration API,
 * executeHTTPGraphQLRequest), on plain node:http: no framework between the socket
 * and GraphQL.
 */
export async function handleGraphQLRequest<TContext extends BaseContext>(
  apollo: ApolloServer<TContext>,
  req: IncomingMessage,
  res: ServerResponse,
  search: string,
  options: {
    maxBodyBytes: number;
    maxDocumentBytes?: number;
    /** `request`: the parsed body and the URL's search (for the context builder's refused-header rule). */
    context: (request: { body: unknown; url: string }) => Promise<TContext>;
    /**
     * Called once the request is read and passed the message checks, right before Apollo: the
     * place to begin the token check (ContextBuilder.start), never earlier, so that a body read
     * slowly cannot carry an answer older than the body (a token revoked meanwhile would pass).
     * Returns true when a check was begun: Apollo's work on the request then waits for the next
     * check phase (setImmediate, queued after the Redis store's own, which sends the turn's
     * lookups), so every request read in this turn of the event loop is read, and its lookup
     * sent, before Apollo works on any of them. Measured
     * (issue 19, docs/benchmarks.md "The third round"): less CPU per request with every store,
     * the embedded one included.
     */
    beforeApollo?: () => boolean;
    /** The request pipeline's message checks (JSON depth, document size); without it, the same checks at their defaults. */
    pipeline?: Pick<RequestPipeline, 'checkMessage' | 'maxDocumentBytes'>;
  },
): Promise<void> {
  const method = (req.method ?? 'GET').toUpperCase();
  let body: unknown;
  if (method === 'POST') {
    const raw = await readBody(req, options.maxBodyBytes);
    if (isJson(req.headers['content-type'])) {
      const refusal = options.pipeline ? options.pipeline.checkMessage(raw) : jsonTooDeep(raw) ? { status: 400, message: `Request body nests JSON deeper than ${MAX_JSON_DEPTH} levels` } : undefined;
      if (refusal) throw new BodyError(refusal.status, refusal.message);
      try {
        body = raw === '' ? undefined : JSON.parse(raw);
      } catch {
        throw new BodyError(400, 'Request body is not valid JSON');
      }
    } else {
      body = raw;
    }
  }
  const maxDocumentBytes = options.pipeline?.maxDocumentBytes ?? options.maxDocumentBytes;
  if (maxDocumentBytes !== undefined && documentTooLarge(body, search, maxDocumentBytes)) {
    return sendGraphQLError(res, 413, `The query document is larger than ${maxDocumentBytes} bytes.`, ErrorCode.DocumentTooLarge);
  }
  if (options.beforeApollo?.()) await new Promise<void>(setImmediate);
  const response = await apollo.executeHTTPGraphQLRequest({
    httpGraphQLRequest: { method, headers: toHeaderMap(req), search, body },
    context: () => options.context({ body, url: search }),
  });
  await writeResponse(res, response);
}

/**
 * What a GraphQL response says to caches when Apollo did not say otherwise: it answers for one
 * token, so no shared cache may keep it. Apollo's cache-control plugin used to say it for every
 * response of ours (our schema has no cache hints); createServer turns that plugin off (its
 * per-field hook made Apollo wrap every field's resolution: issue 19) and this says it instead,
 * for refusals too. A host that keeps Apollo's plugin gets its header, untouched.
 */
const DEFAULT_CACHE_CONTROL = 'no-store';

async function writeResponse(res: ServerResponse, response: HTTPGraphQLResponse): Promise<void> {
  for (const [name, value] of response.headers) res.setHeader(name, value);
  if (!response.headers.has('cache-control')) res.setHeader('cache-control', DEFAULT_CACHE_CONTROL);
  res.statusCode = response.status ?? 200;
  if (response.body.kind === 'complete') {
    res.setHeader('content-length', Buffer.byteLength(response.body.string));
    res.end(response.body.string);
    return;
  }
  for await (const chunk of response.body.asyncIterator) res.write(chunk);
  res.end();
}
