/**
 * One request pipeline for every transport: what an operation goes through whether it came
 * over HTTP (POST, GET) or a WebSocket `subscribe`. The transport adapters
 * (src/server/http-graphql.ts with Apollo, src/live/ws-adapter.ts with graphql-ws) only
 * read their framing and say a refusal their way (an HTTP status, an `error` message or a
 * close code); every check and every code comes from here:
 *
 * - the message: JSON nesting depth ({@link RequestPipeline.checkMessage}, before JSON.parse:
 *   1 MiB of `[` costs JSON.parse ~1 s, the scan ~1 ms), then the document's size
 *   ({@link RequestPipeline.checkDocument}, before it is hashed or parsed);
 * - the GraphQL limits (depth, aliases, cost, directives, tokens, once-per-request fields) and
 *   introspection, as Apollo's options and as the rules of {@link RequestPipeline.prepare};
 * - client mistakes with their stable codes (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED,
 *   OPERATION_RESOLUTION_FAILURE, BAD_USER_INPUT for variables of the wrong type, BAD_REQUEST,
 *   DOCUMENT_TOO_LARGE), logged at debug and never as INTERNAL_SERVER_ERROR;
 * - error masking ({@link RequestPipeline.formatError}): suggestions stripped in linear time,
 *   no stack for an expected refusal, real faults logged at error and masked in production;
 *   what a client wrote is cut before it reaches a log line;
 * - the auth context ({@link RequestPipeline.buildContext}): one verifier, one store lookup.
 *
 * The HTTP path pays nothing more per request than before: the same Apollo options, one
 * formatter, one scan of the body it already had to read.
 */
import {
  getOperationAST,
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ValidationRule,
} from 'graphql';
import { getVariableValues } from 'graphql/execution/values.js';
import type { TokenVerifier } from '../auth/token-verifier.js';
import { createContextBuilder, type AuthOutcome, type ContextBuilder } from '../context/context-builder.js';
import type { GraphQLContext } from '../context/context.js';
import { ErrorCode } from '../errors.js';
import { createSizedDocumentCache } from '../graphql-limits/document-store.js';
import { createGraphQLLimits, exceedsBytes, stripSuggestions, type GraphQLLimitOptions, type GraphQLLimits } from '../graphql-limits/graphql-limits.js';
import type { RevocationStore } from '../revocation/revocation-store.js';
import { clientMistakeCode } from './client-mistakes.js';

/** Deepest JSON nesting accepted in a message: a GraphQL request is a few levels deep. */
export const MAX_JSON_DEPTH = 64;

/** Longest piece of client text put in a log line (a message quoting a variable, a user agent). */
export const MAX_LOGGED_TEXT = 1024;

/**
 * Longest error message a client is sent: graphql-js quotes a variable's value in its error
 * (twice for a scalar of the wrong type), so a 1 MiB variable would come back as 2 MiB.
 */
export const MAX_ERROR_MESSAGE = 4096;

/** Codes of a client's mistake: refused, logged at debug, never an error-level line. */
export const CLIENT_MISTAKE_CODES: ReadonlySet<string> = new Set([
  ErrorCode.BadRequest,
  ErrorCode.DocumentTooLarge,
  ErrorCode.PersistedQueryNotSupported,
  ErrorCode.BadUserInput,
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'OPERATION_RESOLUTION_FAILURE',
]);

/** A refusal of the whole message, before any operation is known. */
export interface PipelineRefusal {
  /** The stable `extensions.code`. */
  code: ErrorCode;
  /** The HTTP status an HTTP adapter answers with. */
  status: number;
  message: string;
}

/** What {@link RequestPipeline.prepare} hands an executor. */
export interface PreparedOperation {
  document: DocumentNode;
  operation: OperationDefinitionNode;
}

/** The logger the pipeline writes to (pino's shape). */
export interface PipelineLogger {
  debug(object: object, message: string): void;
  error(object: object, message: string): void;
}

/** Options of {@link createRequestPipeline}. */
export interface RequestPipelineOptions {
  /** The executable schema, with its directives applied. */
  schema: GraphQLSchema;
  verifier: TokenVerifier;
  /** What every token is checked against: one lookup per request (or per operation on a socket). */
  revocations: RevocationStore;
  /** Upper bound of a store lookup, ms (the context builder's). Default 1000. */
  lookupTimeoutMs?: number;
  /** Told of every authentication outcome: logs and metrics. */
  onOutcome?: (outcome: AuthOutcome, detail?: string, error?: unknown) => void;
  /** The GraphQL limits (createGraphQLLimits); `hideSuggestions` is applied by {@link RequestPipeline.formatError}. */
  limits?: GraphQLLimitOptions;
  /** Largest query document, UTF-8 bytes, checked before parsing. Default 32768. */
  maxDocumentBytes?: number;
  /** Deepest JSON nesting of a message. Default {@link MAX_JSON_DEPTH}. */
  maxJsonDepth?: number;
  /** Default true; false refuses introspection (graphql-js's NoSchemaIntrospectionCustomRule). */
  introspection?: boolean;
  /** Masks unexpected errors ("Internal server error") and leaves out stacks. Default true. */
  production?: boolean;
  logger?: PipelineLogger;
  /** Limits already built (a library host's own createGraphQLLimits), instead of building them from `limits`. */
  graphqlLimits?: GraphQLLimits<GraphQLContext>;
  /** What the parsed and validated documents of {@link RequestPipeline.prepare} may keep, bytes. Default 4 MiB. */
  preparedCacheBytes?: number;
}

/** The pipeline both transports call. */
export interface RequestPipeline {
  /** The auth context of one request (or of one socket operation). */
  readonly buildContext: ContextBuilder;
  /** Apollo's options: validation rules, plugins, parse options, document store. */
  readonly graphqlLimits: GraphQLLimits<GraphQLContext>;
  /** Whether introspection is served (Apollo's `introspection`). */
  readonly introspection: boolean;
  /** Every validation rule of {@link prepare}: graphql-js's, the limits, and introspection's. */
  readonly validationRules: readonly ValidationRule[];
  readonly maxDocumentBytes: number;
  /** Refuses a raw JSON message nested deeper than the limit (BAD_REQUEST, 400); undefined when it may be parsed. */
  checkMessage(text: string): PipelineRefusal | undefined;
  /** Refuses a query document over the size limit (DOCUMENT_TOO_LARGE, 413). */
  checkDocument(query: unknown): PipelineRefusal | undefined;
  /**
   * Parses (token limit), validates (every rule), resolves the operation and checks the
   * variables: the operation, or the client's mistakes with their codes.
   */
  prepare(request: { query: string; operationName?: string | null | undefined; variables?: Record<string, unknown> | null | undefined }): PreparedOperation | GraphQLError[];
  /** The last say on every error a client is sent (Apollo's formatError; graphql-ws's onNext/onError). */
  formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError;
}

/** `text` cut to `max` characters, with how much was left out. */
export function boundText(text: string, max = MAX_LOGGED_TEXT): string {
  return text.length <= max ? text : `${text.slice(0, max)}… [${text.length - max} more characters]`;
}

/**
 * Whether `text` nests JSON arrays or objects deeper than `limit`, in one pass over it (brackets
 * inside strings don't count). JSON.parse spends ~1 µs per level of nesting, ~1 s for a 1 MiB
 * body of `[`: checked first, it costs ~1 ms per MiB.
 */
export function jsonTooDeep(text: string, limit = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/**
 * `error` with `code`, as Apollo says it over HTTP: a parse or validation error is
 * GRAPHQL_PARSE_FAILED / GRAPHQL_VALIDATION_FAILED whatever code a rule gave it (graphql-armor's
 * say BAD_USER_INPUT), a variable's error BAD_USER_INPUT.
 */
function withCode(error: GraphQLError, code: string): GraphQLError {
  if (error.extensions?.code === code) return error;
  return new GraphQLError(error.message, {
    nodes: error.nodes ?? null,
    source: error.source ?? null,
    positions: error.positions ?? null,
    path: error.path ?? null,
    originalError: error.originalError ?? null,
    extensions: { ...error.extensions, code },
  });
}

/** Builds the pipeline once per server; both transport adapters take it. */
export function createRequestPipeline(options: RequestPipelineOptions): RequestPipeline {
  const { schema, logger } = options;
  const production = options.production ?? true;
  const introspection = options.introspection ?? true;
  const maxDocumentBytes = options.maxDocumentBytes ?? 32_768;
  const maxJsonDepth = options.maxJsonDepth ?? MAX_JSON_DEPTH;
  const hideSuggestions = options.limits?.hideSuggestions ?? false;
  // Suggestions are stripped by formatError, for every transport alike.
  const graphqlLimits = options.graphqlLimits ?? createGraphQLLimits<GraphQLContext>({ ...options.limits, hideSuggestions: false });
  const validationRules: ValidationRule[] = [
    ...specifiedRules,
    ...graphqlLimits.validationRules,
    ...(introspection ? [] : [NoSchemaIntrospectionCustomRule]),
  ];
  const buildContext = createContextBuilder({
    verifier: options.verifier,
    revocations: options.revocations,
    lookupTimeoutMs: options.lookupTimeoutMs ?? 1000,
    ...(options.onOutcome ? { onOutcome: options.onOutcome } : {}),
  });
  // Validated documents by source text, bounded in bytes; a hit moves nothing (document-store.ts).
  const prepared = createSizedDocumentCache(options.preparedCacheBytes ?? 4 * 1024 * 1024);

  function checkMessage(text: string): PipelineRefusal | undefined {
    if (!jsonTooDeep(text, maxJsonDepth)) return undefined;
    return { code: ErrorCode.BadRequest, status: 400, message: `Request body nests JSON deeper than ${maxJsonDepth} levels` };
  }

  function checkDocument(query: unknown): PipelineRefusal | undefined {
    if (typeof query !== 'string' || !exceedsBytes(query, maxDocumentBytes)) return undefined;
    return { code: ErrorCode.DocumentTooLarge, status: 413, message: `The query document is larger than ${maxDocumentBytes} bytes.` };
  }

  function prepare(request: { query: string; operationName?: string | null | undefined; variables?: Record<string, unknown> | null | undefined }): PreparedOperation | GraphQLError[] {
    const tooLarge = checkDocument(request.query);
    if (tooLarge) return [new GraphQLError(tooLarge.message, { extensions: { code: tooLarge.code } })];
    let document = prepared.get(request.query);
    if (!document) {
      try {
        document = parse(request.query, graphqlLimits.parseOptions);
      } catch (error) {
        if (error instanceof GraphQLError) return [withCode(error, 'GRAPHQL_PARSE_FAILED')];
        throw error;
      }
      const errors = validate(schema, document, validationRules);
      if (errors.length > 0) return errors.map((e) => withCode(e, 'GRAPHQL_VALIDATION_FAILED'));
      prepared.set(request.query, document, 2 * request.query.length);
    }
    const operation = getOperationAST(document, request.operationName ?? undefined);
    if (!operation) {
      const message = request.operationName ? `Unknown operation named "${request.operationName}".` : 'Must provide operation name if query contains multiple operations.';
      return [new GraphQLError(boundText(message, 256), { extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } })];
    }
    // Variables of the wrong type are the client's mistake (BAD_USER_INPUT, as Apollo says it
    // over HTTP), found before execution; graphql-js would report them without a code.
    const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], request.variables ?? {}, { maxErrors: 10 });
    if (coerced.errors) return coerced.errors.map((e) => withCode(e, ErrorCode.BadUserInput));
    return { document, operation };
  }

  function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
    // Suggestions stripped in one pass (linear, whatever the message quotes), then the message bounded.
    if (hideSuggestions && formatted.message.includes('Did you mean ')) formatted = { ...formatted, message: stripSuggestions(formatted.message) };
    if (formatted.message.length > MAX_ERROR_MESSAGE) formatted = { ...formatted, message: boundText(formatted.message, MAX_ERROR_MESSAGE) };
    // A client's mistake that Apollo reports without a code (so as INTERNAL_SERVER_ERROR): its
    // stable code, no stack, and no error-level line.
    const mistake = clientMistakeCode(formatted, error);
    if (mistake) formatted = { message: formatted.message, extensions: { code: mistake } };
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && CLIENT_MISTAKE_CODES.has(code)) {
      logger?.debug({ code, message: boundText(formatted.message) }, 'request refused: client mistake');
    }
    if (code !== 'INTERNAL_SERVER_ERROR') {
      // An expected refusal (auth, validation, bad input) is not a bug: no stack trace, even in development.
      if (!formatted.extensions?.stacktrace) return formatted;
      const { stacktrace: _stacktrace, ...extensions } = formatted.extensions;
      return { ...formatted, extensions };
    }
    logger?.error({ err: loggableError(error) }, 'unexpected error while executing a request');
    if (!production) return formatted;
    // Clients get a stable code and no detail; the log has the detail.
    return { message: 'Internal server error', extensions: { code }, ...(formatted.path ? { path: formatted.path } : {}) };
  }

  return {
    buildContext,
    graphqlLimits,
    introspection,
    validationRules,
    maxDocumentBytes,
    checkMessage,
    checkDocument,
    prepare,
    formatError,
  };
}

/** An error as a log field: its message bounded (it may quote what the client sent), its stack kept. */
function loggableError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const original = (error as { originalError?: unknown }).originalError;
  return {
    type: error.name,
    message: boundText(error.message),
    ...(error.stack ? { stack: boundText(error.stack, 4096) } : {}),
    ...(original instanceof Error && original !== error ? { cause: { type: original.name, message: boundText(original.message), stack: original.stack ? boundText(original.stack, 2048) : undefined } } : {}),
  };
}
