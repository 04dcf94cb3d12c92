import type { Area } from '../areas/area.js';
import { sendJson } from '../pipeline/http-body.js';
import { createHealthChecks, type HealthCheckOptions } from './health.js';

/**
 * The health area: `/healthz` (liveness, no I/O) and `/readyz` (the store's per-request lookup,
 * after the safeguards' conditions). Give it the store without the in-process cache: a cached
 * answer would keep an instance "ready" through a Redis outage.
 */
export function healthArea(options: HealthCheckOptions): Area {
  const health = createHealthChecks(options);
  return {
    name: 'health',
    routes: {
      handles: (path) => path === '/healthz' || path === '/readyz',
      async handle(req, res) {
        const path = (req.url ?? '/').split('?', 1)[0];
        const probe = path === '/healthz' ? health.liveness() : await health.readiness();
        sendJson(res, probe.status, probe.body);
      },
    },
  };
}
