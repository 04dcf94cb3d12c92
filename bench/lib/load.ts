/** One load run with autocannon (programmatic API), in the bench process. */
import autocannon from 'autocannon';

/** The figures of one run. */
export interface LoadResult {
  /** Requests answered per second over the whole run. */
  rps: number;
  /** Latency percentiles, ms. */
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
}

/**
 * Runs `connections` keep-alive connections against `url` for `durationSec` (or `amount`
 * requests). `tokens`: each request carries the next of them (`Authorization: Bearer`), in turn.
 */
export async function runLoad(
  url: string,
  options: { body: string; headers: Record<string, string>; connections: number; durationSec: number; amount?: number; tokens?: readonly string[] },
): Promise<LoadResult> {
  const tokens = options.tokens;
  let next = 0;
  const result = await autocannon({
    url,
    method: 'POST',
    connections: options.connections,
    // With `amount`, exactly that many requests, all answered: nothing left in flight.
    ...(options.amount ? { amount: options.amount } : { duration: options.durationSec }),
    headers: { 'content-type': 'application/json', ...options.headers },
    body: options.body,
    timeout: 10,
    ...(tokens && tokens.length > 0
      ? {
          requests: [
            {
              setupRequest(request: { headers?: Record<string, string> }) {
                request.headers = { ...request.headers, authorization: `Bearer ${tokens[next++ % tokens.length]}` };
                return request;
              },
            },
          ],
        }
      : {}),
  });
  const requests = result['2xx'] + result.non2xx;
  return {
    // Total over the run's own duration: precise for short runs, unlike the per-second samples' mean.
    rps: requests / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

/** The median of numbers (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
