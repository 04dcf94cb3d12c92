/**
 * The requests in flight, for a graceful close: `close()` marks each response not yet sent
 * `Connection: close`, so its kept-alive socket closes once it is answered.
 *
 * Why slots and not a `Set<ServerResponse>` with `add`/`delete` per request (issue 19): V8
 * replaces a Set's hash table every few dozen insertions and deletions, and the replaced table
 * keeps its entries and a pointer to its successor (for iterators still walking it). Once one
 * table is in the old generation (a full GC promotes the live one), every replaced table, dead
 * but not collected until the next full GC, keeps the next one alive through each young-generation
 * collection, and with it every response in the set when it was replaced and everything they
 * hold (request, headers, Apollo's request context). Measured with a lookup that waits for
 * Redis: from the first full GC on, ~1.1 MB promoted per scavenge instead of ~0.18 MB (3.5 against
 * 0.55 KB per request, GC time per request doubled), the same with the embedded store once its
 * lookup waited one event-loop turn; plain Apollo has no such set. Slots are one array that
 * grows to the largest number of requests ever in flight and a stack of free indices: no table
 * is ever replaced, a finished request leaves no reference behind.
 */
import type { ServerResponse } from 'node:http';

/** Responses in flight: {@link InFlight.add} when a request starts, the returned release when it ends. */
export interface InFlight {
  /** Records `res`; the returned function releases it (when it closes; further calls do nothing). */
  add(res: ServerResponse): () => void;
  /** Calls `fn` with every response recorded and not released. */
  forEach(fn: (res: ServerResponse) => void): void;
}

/** Creates an empty {@link InFlight}. */
export function createInFlight(): InFlight {
  const slots: (ServerResponse | undefined)[] = [];
  const free: number[] = [];
  return {
    add(res) {
      const slot = free.length > 0 ? (free.pop() as number) : slots.length;
      slots[slot] = res;
      return () => {
        // A second call must not free the slot again: two later requests would share it.
        if (slots[slot] !== res) return;
        slots[slot] = undefined;
        free.push(slot);
      };
    },
    forEach(fn) {
      for (const res of slots) if (res !== undefined) fn(res);
    },
  };
}
