import type { RevocationStore } from '../revocation/revocation-store.js';

/** The answer of a health or readiness probe. */
export interface ProbeResult {
  status: 200 | 503;
  body: { status: 'ok' | 'ready' | 'unavailable' | 'draining'; reason?: string };
}

/** Options of {@link createHealthChecks}. */
export interface HealthCheckOptions {
  revocations: RevocationStore;
  /** A store slower than this is "not ready". Default 1000 ms. */
  timeoutMs?: number;
  /** True once the server is shutting down: it is alive but takes no new work. */
  draining?: () => boolean;
  /**
   * More readiness conditions, each resolving with why the API is not ready, or undefined
   * (Redis' eviction policy, this host's clock, the data-loss markers). Run before the store's lookup.
   */
  checks?: readonly (() => Promise<string | undefined>)[];
}

/** Liveness and readiness, apart: a Redis outage makes the API unready, never "dead". */
export interface HealthChecks {
  /** `/healthz`: the process answers. No I/O, so a Redis outage never gets the API restarted. */
  liveness(): ProbeResult;
  /** `/readyz`: the token store answers the same lookup that every authenticated request makes. */
  readiness(): Promise<ProbeResult>;
}

// Not a real user: a lookup for it is the per-request command (one ZMSCORE), on no one's data.
const PROBE = { userId: '__readyz__', jti: '__readyz__', expiresAt: 0 } as const;

/** Builds the probes. */
export function createHealthChecks(options: HealthCheckOptions): HealthChecks {
  const timeoutMs = options.timeoutMs ?? 1000;
  return {
    liveness: () => ({ status: 200, body: { status: 'ok' } }),
    async readiness() {
      if (options.draining?.()) return { status: 503, body: { status: 'draining', reason: 'shutting down' } };
      let timer: NodeJS.Timeout | undefined;
      try {
        const deadline = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
        });
        for (const check of options.checks ?? []) {
          const reason = await Promise.race([check(), deadline]);
          if (reason) return { status: 503, body: { status: 'unavailable', reason } };
        }
        await Promise.race([options.revocations.isRevoked(PROBE), deadline]);
        return { status: 200, body: { status: 'ready' } };
      } catch {
        return { status: 503, body: { status: 'unavailable', reason: 'token store does not answer' } };
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
