import type { ApolloServerPlugin, BaseContext, DocumentStore } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { ParseOptions, ValidationRule } from 'graphql';
import { createDocumentStore } from './document-store.js';
import { fieldCallLimitRule } from './field-call-limit.js';

/** The limits on GraphQL documents; every one has a default (see docs/security.md). */
export interface GraphQLLimitOptions {
  /** Deepest selection, introspection excepted. Default 10. */
  maxDepth?: number;
  /** Aliases per operation. Default 15. */
  maxAliases?: number;
  /** Lexer tokens per document, counted while parsing (graphql-js's own parse option). Default 1000. */
  maxTokens?: number;
  /** graphql-armor's cost (objects 2, scalars 1, x1.5 per level). Default 5000. */
  maxCost?: number;
  /** Directives per operation. Default 50. */
  maxDirectives?: number;
  /** Mutation fields that may appear at most once per document. Default signIn and signUp. */
  oncePerRequest?: readonly string[];
  /** Strip "Did you mean ...?" from error messages (they reveal the schema). Default false. */
  hideSuggestions?: boolean;
  /** What Apollo's parsed-document cache may keep, in bytes (createDocumentStore). Default 16 MiB. */
  documentCacheBytes?: number;
}

/** What to spread into `new ApolloServer({...})`. */
export interface GraphQLLimits<TContext extends BaseContext> {
  validationRules: ValidationRule[];
  plugins: ApolloServerPlugin<TContext>[];
  parseOptions: ParseOptions;
  /** Apollo's `documentStore`, sized by what a parsed document really keeps. */
  documentStore: DocumentStore;
}

const SUGGESTION = 'Did you mean ';

/**
 * `message` without its "Did you mean ...?" parts (and the space before each), in one pass:
 * each part ends at the first "?" after it, and once no "?" is left nothing more can match.
 * (The regex this replaces, / ?Did you mean [^?]*\?/g, rescanned the rest of the message
 * for every "Did you mean" without a "?": quadratic in a message that quotes client text.)
 */
export function stripSuggestions(message: string): string {
  let out = '';
  let from = 0;
  for (;;) {
    const at = message.indexOf(SUGGESTION, from);
    if (at === -1) break;
    const end = message.indexOf('?', at + SUGGESTION.length);
    if (end === -1) break;
    out += message.slice(from, at > from && message[at - 1] === ' ' ? at - 1 : at);
    from = end + 1;
  }
  return from === 0 ? message : out + message.slice(from);
}

/**
 * Removes graphql-js's "Did you mean ...?" from every error message. (graphql-armor's Apollo
 * variant of this protection leaves the trailing "?" behind, hence this one.)
 */
export function hideSuggestionsPlugin<TContext extends BaseContext>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors }) {
          for (const error of errors) {
            if (error.message.includes(SUGGESTION)) (error as { message: string }).message = stripSuggestions(error.message);
          }
        },
      };
    },
  };
}

/**
 * Whether `text` is longer than `maxBytes` in UTF-8, without encoding it when its length alone
 * decides. The document size limit (GRAPHQL_MAX_DOCUMENT_BYTES) is checked with it where the
 * request is read (src/server/http-graphql.ts), before Apollo parses the document or hashes it
 * for its cache: an error thrown from an Apollo plugin at that stage would be a 500.
 */
export function exceedsBytes(text: string, maxBytes: number): boolean {
  if (text.length > maxBytes) return true;
  if (text.length * 3 <= maxBytes) return false;
  return Buffer.byteLength(text, 'utf8') > maxBytes;
}

/**
 * Depth, alias, cost and directive limits (graphql-armor's validation rules), a token limit
 * (graphql-js's parse option: the document is never parsed twice), a document cache sized by
 * what it keeps, a once-per-request rule for signIn/signUp, and optionally hidden suggestions. Validation rules run only when a
 * document is first seen: Apollo caches validated documents, so the hot path pays nothing.
 */
export function createGraphQLLimits<TContext extends BaseContext>(options: GraphQLLimitOptions = {}): GraphQLLimits<TContext> {
  const armor = new ApolloArmor({
    maxDepth: { n: options.maxDepth ?? 10 },
    maxAliases: { n: options.maxAliases ?? 15 },
    costLimit: { maxCost: options.maxCost ?? 5000 },
    maxDirectives: { n: options.maxDirectives ?? 50 },
    // Counted by graphql-js's parser itself (parseOptions below) rather than by a second parse.
    maxTokens: { enabled: false },
    blockFieldSuggestion: { enabled: false },
  }).protect();
  const once = options.oncePerRequest ?? ['signIn', 'signUp'];
  return {
    validationRules: [...armor.validationRules, fieldCallLimitRule(Object.fromEntries(once.map((name) => [name, 1])))],
    plugins: [
      ...(armor.plugins as ApolloServerPlugin<TContext>[]),
      ...(options.hideSuggestions ? [hideSuggestionsPlugin<TContext>()] : []),
    ],
    parseOptions: { maxTokens: options.maxTokens ?? 1000 },
    documentStore: createDocumentStore({ maxBytes: options.documentCacheBytes ?? 16 * 1024 * 1024 }),
  };
}
