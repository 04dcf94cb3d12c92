/**
 * Garbage collection of a child server, read from V8's own trace: the bench starts its
 * servers with `--trace-gc-nvp`, and V8 prints one line per collection on stdout with its
 * pause, the bytes allocated since the previous collection and the bytes promoted to the old
 * generation. Summed between two snapshots they give, per request: allocation, promotion and
 * time spent in GC pauses, for the project and plain Apollo alike (no code in either server).
 */

/** Running totals since the process started. */
export interface GcTotals {
  /** Collections seen. */
  count: number;
  /** Young-generation collections (scavenges). */
  scavenges: number;
  /** Main-thread pause, ms, every kind of collection. */
  pauseMs: number;
  /** Bytes allocated (V8's `allocated=`: since the previous collection). */
  allocated: number;
  /** Bytes promoted to the old generation by scavenges. */
  promoted: number;
}

/** What one run cost in GC, per request. */
export interface GcPerRequest {
  /** µs of GC pause per request. */
  pauseUs: number;
  /** Bytes allocated per request. */
  allocatedBytes: number;
  /** Bytes promoted to the old generation per request. */
  promotedBytes: number;
  /** Collections during the run. */
  collections: number;
  /**
   * Bytes promoted per scavenge: about what the requests of one young generation keep alive
   * past two scavenges. Plain Apollo ~180 KB; issue 19's leak showed as ~1.1 MB from the
   * first full GC on, whatever the request rate (docs/benchmarks.md, "Issue 19").
   */
  promotedPerScavenge: number;
}

/** The node flag that makes V8 print the lines {@link createGcTrace} reads. */
export const GC_TRACE_FLAG = '--trace-gc-nvp';

const FIELD = /(\w+)=([\d.]+)/g;

/** Feeds on a child's stdout; keeps running totals of its `--trace-gc-nvp` lines. */
export function createGcTrace(): { feed(chunk: string): void; totals(): GcTotals } {
  const totals: GcTotals = { count: 0, scavenges: 0, pauseMs: 0, allocated: 0, promoted: 0 };
  let partial = '';
  return {
    feed(chunk) {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.includes(' pause=')) continue;
        const fields = new Map<string, string>();
        for (const [, name, value] of line.matchAll(FIELD)) fields.set(name as string, value as string);
        totals.count += 1;
        totals.pauseMs += Number(fields.get('pause') ?? 0);
        totals.allocated += Number(fields.get('allocated') ?? 0);
        if (/ gc=s /.test(line)) {
          totals.scavenges += 1;
          totals.promoted += Number(fields.get('promoted') ?? 0);
        }
      }
    },
    totals: () => ({ ...totals }),
  };
}

/** The difference of two snapshots, per request. */
export function gcPerRequest(before: GcTotals, after: GcTotals, requests: number): GcPerRequest {
  const n = Math.max(requests, 1);
  return {
    pauseUs: ((after.pauseMs - before.pauseMs) * 1000) / n,
    allocatedBytes: (after.allocated - before.allocated) / n,
    promotedBytes: (after.promoted - before.promoted) / n,
    collections: after.count - before.count,
    promotedPerScavenge: (after.promoted - before.promoted) / Math.max(after.scavenges - before.scavenges, 1),
  };
}
