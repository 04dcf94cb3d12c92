import type { DocumentStore } from '@apollo/server';
import type { DocumentNode } from 'graphql';

/** Options of {@link createDocumentStore}. */
export interface DocumentStoreOptions {
  /** What the cache may keep, in bytes as {@link documentRetainedBytes} counts them. Default 16 MiB. */
  maxBytes?: number;
}

/** Rough heap cost of one lexer token object (seven fields, V8 object header, and its chain pointer). */
const TOKEN_BYTES = 112;

/**
 * What keeping a parsed document in memory really costs, counted from above: a parsed
 * document's `loc` holds the whole source text (2 bytes per character at most) and the
 * chain of every lexer token, comments included (graphql-js's token limit does not count
 * comments, so `#\n` repeated is one token object per 2 bytes of source); the AST itself is
 * counted as twice its JSON length. Apollo's default cache counts the JSON length only, a
 * few hundred bytes for a document that keeps 900 KB alive.
 */
export function documentRetainedBytes(document: DocumentNode): number {
  let tokens = 0;
  for (let token = document.loc?.startToken ?? null; token !== null; token = token.next) tokens += 1;
  const source = document.loc?.source.body.length ?? 0;
  return 2 * source + TOKEN_BYTES * tokens + 2 * JSON.stringify(document).length;
}

/** A cache of documents bounded in bytes: {@link createSizedDocumentCache}. */
export interface SizedDocumentCache {
  readonly size: number;
  readonly bytes: number;
  get(key: string): DocumentNode | undefined;
  /** Keeps `document` under `key` (replacing it), unless it alone is larger than the bound. */
  set(key: string, document: DocumentNode, keyBytes: number): void;
  delete(key: string): boolean;
}

/**
 * A synchronous cache of parsed documents, sized by {@link documentRetainedBytes} plus what
 * the caller counts for the key: once the total passes `maxBytes`, documents not used since
 * they were last passed over go first (CLOCK, "second chance": an approximation of least
 * recently used), and a document larger than `maxBytes` is not kept at all. A Map keeps
 * insertion order: a hit only marks its entry used (every request looks its document up, so
 * a hit must not move entries: a delete and re-insert per hit cost ~1 µs more than Apollo's
 * own cache, and every few dozen of them V8 replaces the Map's table); eviction walks from
 * the front, gives a used entry a second chance at the back, and drops the first one not used.
 */
export function createSizedDocumentCache(maxBytes: number): SizedDocumentCache {
  const entries = new Map<string, { document: DocumentNode; bytes: number; used: boolean }>();
  let total = 0;

  function remove(key: string): boolean {
    const entry = entries.get(key);
    if (!entry) return false;
    entries.delete(key);
    total -= entry.bytes;
    return true;
  }

  return {
    get size() {
      return entries.size;
    },
    get bytes() {
      return total;
    },
    get(key) {
      const entry = entries.get(key);
      if (!entry) return undefined;
      entry.used = true;
      return entry.document;
    },
    set(key, document, keyBytes) {
      remove(key);
      const bytes = documentRetainedBytes(document) + keyBytes;
      if (bytes > maxBytes) return;
      entries.set(key, { document, bytes, used: false });
      total += bytes;
      // Each entry is seen at most twice (once used, once not), so this ends. The new entry
      // stays: it fits alone (checked above), so the others make room.
      for (const [oldest, entry] of entries) {
        if (total <= maxBytes) break;
        if (oldest === key) continue;
        if (entry.used) {
          entry.used = false;
          entries.delete(oldest);
          entries.set(oldest, entry);
        } else remove(oldest);
      }
    },
    delete: remove,
  };
}

/**
 * Apollo Server's `documentStore` (its cache of parsed and validated documents): a
 * {@link createSizedDocumentCache}. Keys are Apollo's (a schema hash and the SHA-256 of the
 * source), so a key is ~130 bytes whatever the document.
 */
export function createDocumentStore(options: DocumentStoreOptions = {}): DocumentStore & { readonly size: number; readonly bytes: number } {
  const cache = createSizedDocumentCache(options.maxBytes ?? 16 * 1024 * 1024);
  return {
    get size() {
      return cache.size;
    },
    get bytes() {
      return cache.bytes;
    },
    async get(key) {
      return cache.get(key);
    },
    async set(key, document) {
      cache.set(key, document, 2 * key.length);
    },
    async delete(key) {
      return cache.delete(key);
    },
  };
}
