import type { AuthOutcome } from '../context/context-builder.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

/** The `extensions.reason` a refused token got, for the debug log. */
const OUTCOME_REASONS: Partial<Record<AuthOutcome, string>> = {
  invalid: 'TOKEN_INVALID',
  expired: 'TOKEN_EXPIRED',
  revoked: 'TOKEN_REVOKED',
};

/**
 * What both transports report each auth outcome to: the metric, and the log. During an outage
 * every request fails the same way: one warning a second, with a count, not a line per request.
 */
export function createAuthOutcomeLog(logger: Logger, metrics: Metrics | undefined): (outcome: AuthOutcome, detail?: string, error?: unknown) => void {
  let unavailableLoggedAt = 0;
  let unavailableSuppressed = 0;
  return (outcome, detail, error) => {
    metrics?.recordAuthOutcome(outcome);
    if (outcome === 'ok' || outcome === 'missing') return;
    if (outcome === 'unavailable') {
      const at = Date.now();
      if (at - unavailableLoggedAt < 1000) {
        unavailableSuppressed += 1;
        return;
      }
      const alsoRefused = unavailableSuppressed;
      unavailableLoggedAt = at;
      unavailableSuppressed = 0;
      logger.warn({ outcome, detail, err: error, alsoRefusedSinceLastLine: alsoRefused }, 'token check failed: store unavailable (503)');
    } else logger.debug({ outcome, reason: OUTCOME_REASONS[outcome], detail }, 'token refused');
  };
}
