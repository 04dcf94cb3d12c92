import type { IncomingMessage } from 'node:http';
import { Kind, parse, type OperationDefinitionNode } from 'graphql';
import type { TokenVerifier } from '../auth/token-verifier.js';
import { TokenVerificationError } from '../auth/token-verifier.js';
import { authUnavailableError, invalidTokenError, malformedAuthorizationError } from '../errors.js';
import type { RevocationStore } from '../revocation/revocation-store.js';
import type { VerifiedToken } from '../auth/token.js';
import { ANONYMOUS, type GraphQLContext } from './context.js';

/** How a request's authentication ended: for logs and metrics. */
export type AuthOutcome = 'ok' | 'missing' | 'invalid' | 'expired' | 'revoked' | 'unavailable';

/** Options of {@link createContextBuilder}. */
export interface ContextBuilderOptions {
  verifier: TokenVerifier;
  revocations: RevocationStore;
  /**
   * Upper bound on the revocation lookup, in ms: past it the request is refused with
   * 503 AUTH_UNAVAILABLE (fail closed). Default 1000. Keep the store's own command
   * timeout below it so the store's error, not this timer, normally ends the wait. A store
   * whose lookups settle by themselves within it (`revocations.lookupBoundMs` at most this:
   * the Redis store on a single node or Sentinel, whose command timeout ioredis arms per
   * command; the embedded store) gets no timer per request: the bound is already there.
   */
  lookupTimeoutMs?: number;
  /** Told of every outcome, with a detail for refusals (never the token itself). */
  onOutcome?: (outcome: AuthOutcome, detail?: string, error?: unknown) => void;
  /**
   * Mutation fields that carry their own credentials in their arguments (a password, a refresh
   * token). An operation that selects only these runs anonymous when its Authorization header is
   * refused (malformed, invalid, expired, revoked), instead of being refused 401: a client that
   * still sends a dead access token can sign in again or refresh. Needs the request's
   * {@link AuthorizationInput.request}. Default `['signIn', 'signUp', 'refreshSession']`; `[]`
   * refuses every operation, as the WebSocket path always does.
   */
  credentialMutations?: readonly string[];
}

/** What the builder reads of a request: the Authorization header, each value it was sent with. */
export interface AuthorizationInput {
  authorization?: string | readonly string[] | undefined;
  /** Copied into the context as is (see {@link GraphQLContext.clientAddress}). */
  clientAddress?: (() => string) | undefined;
  /** Copied into the context, cut to 256 characters. */
  userAgent?: string | undefined;
  /**
   * The request's GraphQL parameters, read only when the Authorization header is refused, to
   * let {@link ContextBuilderOptions.credentialMutations} through: `body`, the parsed JSON body
   * (`{ query, operationName }`, an array for a batch), else `url`'s `?query=&operationName=`.
   * Express's and startStandaloneServer's `req` fit as they are. Absent: every refusal is a 401.
   */
  request?: { readonly body?: unknown; readonly url?: string | undefined } | undefined;
  /** The check begun by {@link ContextBuilder.start} for this request's header; `authorization` is then not read again. */
  started?: StartedAuthentication | undefined;
}

/**
 * A request's token check, begun by {@link ContextBuilder.start} as soon as its headers are
 * read: the header judged, the token verified, the store's lookup sent. Handed back to the
 * builder (`input.started`) once the body is read, it decides the context as the builder does
 * by itself. Refusals are only decided then, when the request's parameters are known.
 */
export type StartedAuthentication =
  | { readonly kind: 'none' }
  | { readonly kind: 'refused'; readonly outcome: AuthOutcome; readonly detail: string | undefined; readonly error: Error }
  | { readonly kind: 'failed'; readonly error: unknown }
  | {
      readonly kind: 'checking';
      readonly token: VerifiedToken;
      readonly revoked: Promise<boolean>;
      /**
       * The store sends the lookup when the current turn of the event loop ends
       * (RevocationStore.batchesLookups). Informative: our HTTP transport lets the turn end
       * before Apollo's work for every check begun, whatever the store (http-graphql.ts).
       */
      readonly leavesAtTurnEnd: boolean;
    };

/** Builds the GraphQL context of one request. */
export interface ContextBuilder {
  (input: AuthorizationInput): Promise<GraphQLContext>;
  /**
   * Begins the token check of `authorization` now (verification, and the store lookup on its
   * way); give the result to the builder as `input.started`. The HTTP transport calls it once
   * the request is read, right before Apollo, and lets the lookup leave before Apollo's work
   * (issue 19). Begin it only when the request is in hand: an answer is as old as its lookup,
   * and a request must not run on an answer older than itself. A request that never gets its
   * context built costs that one lookup, nothing else.
   */
  start?(authorization: AuthorizationInput['authorization']): StartedAuthentication;
}

const BEARER = /^Bearer +([^\s]+) *$/i;

/** The token of a `Bearer <token>` value, or undefined when the value is not of that form (every transport reads it the same way). */
export function bearerToken(value: string): string | undefined {
  return BEARER.exec(value)?.[1];
}

/** What a client sends when its token variable is unset; no token is ever one of these. */
const UNSET_TOKENS = new Set(['undefined', 'null']);
/** The longest of {@link UNSET_TOKENS}: a longer token is not looked up (hashing a real token's ~300 characters for a Set lookup cost ~0.3 µs a request). */
const UNSET_TOKEN_MAX_LENGTH = Math.max(...[...UNSET_TOKENS].map((word) => word.length));

/** Why a header is not `Bearer <token>`, in words that help the client author. */
function malformedDetail(value: string): string {
  if (/^\s*Bearer\s*$/i.test(value)) return 'the Bearer token is missing (empty)';
  if (/^\s*Bearer\s/i.test(value)) return 'the Bearer token must be one word, without spaces';
  if (value.trim() === '') return 'the header is empty';
  return 'not a Bearer token (another scheme, or no scheme)';
}

/**
 * Every value of the Authorization header of a Node request. Node keeps only the first of
 * duplicated Authorization headers in `req.headers`, so they are counted in rawHeaders.
 */
export function authorizationFromRequest(req: Pick<IncomingMessage, 'rawHeaders'>): string[] {
  const values: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).length === 13 && (raw[i] as string).toLowerCase() === 'authorization') {
      values.push(raw[i + 1] as string);
    }
  }
  return values;
}

/** Tokens parsed, at most, to decide whether a refused request only signs in: those are short. */
const CREDENTIAL_OPERATION_MAX_TOKENS = 1000;

function selectedOperation(query: unknown, operationName: unknown): OperationDefinitionNode | undefined {
  if (typeof query !== 'string') return undefined;
  let document;
  try {
    document = parse(query, { noLocation: true, maxTokens: CREDENTIAL_OPERATION_MAX_TOKENS });
  } catch {
    return undefined;
  }
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (typeof operationName === 'string' && operationName !== '') return operations.find((o) => o.name?.value === operationName);
  return operations.length === 1 ? operations[0] : undefined;
}

function onlyCredentialMutations(params: unknown, allowed: ReadonlySet<string>): boolean {
  if (params === null || typeof params !== 'object') return false;
  const { query, operationName } = params as { query?: unknown; operationName?: unknown };
  const operation = selectedOperation(query, operationName);
  if (operation?.operation !== 'mutation') return false;
  // Plain fields only: a fragment could select anything.
  return operation.selectionSet.selections.every(
    (selection) => selection.kind === Kind.FIELD && (allowed.has(selection.name.value) || selection.name.value === '__typename'),
  );
}

/**
 * Whether every operation of the request selects only credential mutations. Runs on refused
 * requests only (never on the normal path) and fails closed: anything it cannot read is no.
 */
function runsOnlyCredentialMutations(request: AuthorizationInput['request'], allowed: ReadonlySet<string>): boolean {
  if (request === undefined || allowed.size === 0) return false;
  const { body, url } = request;
  if (Array.isArray(body)) return body.length > 0 && body.every((params) => onlyCredentialMutations(params, allowed));
  if (body !== null && typeof body === 'object' && (body as { query?: unknown }).query !== undefined) return onlyCredentialMutations(body, allowed);
  const q = url?.indexOf('?') ?? -1;
  if (url === undefined || q === -1) return false;
  const search = new URLSearchParams(url.slice(q + 1));
  return onlyCredentialMutations({ query: search.get('query') ?? undefined, operationName: search.get('operationName') ?? undefined }, allowed);
}

function timeout(ms: number): { promise: Promise<never>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`revocation lookup exceeded ${ms} ms`)), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/**
 * The context builder: reads the bearer token, verifies it (signature, algorithm,
 * claims), and asks the revocation store once whether it was revoked.
 *
 * - no Authorization header: anonymous context (public fields resolve, `@authenticated`
 *   fields are null with TOKEN_MISSING);
 * - malformed header, invalid, expired or revoked token: throws a GraphQLError that makes
 *   Apollo refuse the whole request with HTTP 401 and `WWW-Authenticate`; except an operation
 *   of `credentialMutations` only (signIn, signUp, refreshSession), which runs anonymous, as
 *   without the header;
 * - store failing or slower than `lookupTimeoutMs`: HTTP 503 AUTH_UNAVAILABLE.
 */
export function createContextBuilder(options: ContextBuilderOptions): ContextBuilder {
  const { verifier, revocations, onOutcome } = options;
  const lookupTimeoutMs = options.lookupTimeoutMs ?? 1000;
  // Read once: a store's bound is fixed when it is built (its client's command timeout).
  const bound = revocations.lookupBoundMs;
  /** Whether a lookup sent now leaves only at the end of the turn (see RevocationStore.batchesLookups). */
  const batched = revocations.batchesLookups === true;
  const selfBounded = typeof bound === 'number' && bound >= 0 && bound <= lookupTimeoutMs;
  const credentialMutations: ReadonlySet<string> = new Set(options.credentialMutations ?? ['signIn', 'signUp', 'refreshSession']);

  /**
   * A refused header: the request is refused with `error`, unless it only signs in, signs up or
   * refreshes: those run as without the header (their credentials are in their arguments), so
   * a client holding a dead access token is never trapped.
   */
  function refuse(input: AuthorizationInput, outcome: AuthOutcome, detail: string | undefined, error: Error): GraphQLContext {
    if (runsOnlyCredentialMutations(input.request, credentialMutations)) {
      onOutcome?.(outcome, `${detail ?? outcome}; header ignored: the operation only signs in, signs up or refreshes`);
      return { auth: ANONYMOUS, clientAddress: input.clientAddress, userAgent: input.userAgent?.slice(0, 256) };
    }
    onOutcome?.(outcome, detail);
    throw error;
  }

  /**
   * The synchronous part: the header read, the token verified and, for a token that passed,
   * the store lookup sent. What the request is refused with, if it is, is decided later by
   * {@link finish}, once the request's parameters are known (credential mutations).
   */
  function start(header: AuthorizationInput['authorization']): StartedAuthentication {
    const values = header === undefined ? [] : typeof header === 'string' ? [header] : header;
    if (values.length === 0) return NO_HEADER;
    if (values.length > 1) return refused('invalid', 'several Authorization headers', malformedAuthorizationError('several values'));
    const match = BEARER.exec(values[0] as string);
    if (!match) {
      const detail = malformedDetail(values[0] as string);
      return refused('invalid', detail, malformedAuthorizationError(detail));
    }
    // A client that interpolated an unset variable ("Bearer undefined", "Bearer null", or a
    // shell's "Bearer $UNSET") holds no token: say so, rather than "invalid token".
    if ((match[1] as string).length <= UNSET_TOKEN_MAX_LENGTH && UNSET_TOKENS.has(match[1] as string)) {
      const detail = `the Bearer token is missing (got the word "${match[1]}": an unset variable in the client?)`;
      return refused('invalid', detail, malformedAuthorizationError(detail));
    }
    let token;
    try {
      token = verifier.verify(match[1] as string);
    } catch (error) {
      if (!(error instanceof TokenVerificationError)) return { kind: 'failed', error };
      const expired = error.reason === 'TOKEN_EXPIRED';
      return refused(expired ? 'expired' : 'invalid', error.detail, invalidTokenError(error.reason));
    }
    let revoked: Promise<boolean>;
    try {
      revoked = revocations.isRevoked(token);
    } catch (error) {
      revoked = Promise.reject(error);
    }
    if (!selfBounded) {
      const timer = timeout(lookupTimeoutMs);
      revoked = Promise.race([revoked, timer.promise]).finally(timer.cancel);
    }
    // Settled even if the request ends before its context is built (a body refused 400):
    // never an unhandled rejection. finish() reads the same promise.
    revoked.catch(ignore);
    return { kind: 'checking', token, revoked, leavesAtTurnEnd: batched };
  }

  async function finish(started: StartedAuthentication, input: AuthorizationInput): Promise<GraphQLContext> {
    switch (started.kind) {
      case 'none':
        onOutcome?.('missing');
        return { auth: ANONYMOUS, clientAddress: input.clientAddress, userAgent: input.userAgent?.slice(0, 256) };
      case 'refused':
        return refuse(input, started.outcome, started.detail, started.error);
      case 'failed':
        throw started.error;
      case 'checking':
        break;
    }
    const { token } = started;
    let revoked: boolean;
    try {
      revoked = await started.revoked;
    } catch (error) {
      onOutcome?.('unavailable', error instanceof Error ? error.message : 'lookup failed', error);
      throw authUnavailableError();
    }
    if (revoked) return refuse(input, 'revoked', `jti ${token.jti}`, invalidTokenError('TOKEN_REVOKED'));
    onOutcome?.('ok');
    return { auth: { kind: 'authenticated', token }, clientAddress: input.clientAddress, userAgent: input.userAgent?.slice(0, 256) };
  }

  const buildContext = ((input) => finish(input.started ?? start(input.authorization), input)) as ContextBuilder;
  buildContext.start = start;
  return buildContext;
}

const NO_HEADER: StartedAuthentication = Object.freeze({ kind: 'none' });

function refused(outcome: AuthOutcome, detail: string | undefined, error: Error): StartedAuthentication {
  return { kind: 'refused', outcome, detail, error };
}

function ignore(): void {}

