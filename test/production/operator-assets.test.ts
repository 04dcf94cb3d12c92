/**
 * The operator files, checked as an operator would load them: deploy/prometheus/alerts.yml by
 * `promtool check rules` (Debian's prometheus package; .ci/run installs it), and every metric
 * name it and deploy/grafana/graphql-revoke.json use appears in a real /metrics scrape of a
 * running API process on a real redis-server.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServerProcess } from '../helpers/redis-server.js';
import { startApiProcess, type ApiProcess } from './api-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ALERTS = `${ROOT}deploy/prometheus/alerts.yml`;
const DASHBOARD = `${ROOT}deploy/grafana/graphql-revoke.json`;
const PROMTOOL = process.env.PROMTOOL ?? '/usr/bin/promtool';

/** The metric names of a PromQL text, histogram series suffixes removed. */
function metricNames(text: string): Set<string> {
  return new Set([...text.matchAll(/graphql_revoke_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, '')));
}

describe('deploy/: the Grafana dashboard and the Prometheus alerts', () => {
  let redis: RedisServerProcess;
  let api: ApiProcess;
  beforeAll(async () => {
    redis = await startRedisServer({ appendonly: false });
    api = await startApiProcess({ REDIS_URL: redis.url });
  });
  afterAll(async () => {
    await api?.kill();
    await redis?.cleanup();
  });

  it('promtool check rules accepts alerts.yml', () => {
    const result = spawnSync(PROMTOOL, ['check', 'rules', ALERTS], { encoding: 'utf8', timeout: 20_000 });
    expect(result.error, `${PROMTOOL} (apt-get install prometheus)`).toBeUndefined();
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toContain('SUCCESS: 6 rules found');
  });

  it('the alerts cover what docs/production.md names', () => {
    const text = readFileSync(ALERTS, 'utf8');
    for (const alert of ['RedisUnavailable', 'RedisDataLoss', 'ClockSkew', 'EvictionPolicyRefused', 'FanOutSlow', '503Rate']) {
      expect(text).toContain(`alert: GraphqlRevoke${alert}`);
    }
  });

  it('every metric both files use is in a real /metrics scrape', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
    expect(dashboard.panels.map((panel) => panel.title)).toEqual([
      'Auth outcomes (requests/s)',
      '401 and 503 rates (GraphQL responses/s)',
      'Revocations (calls/s, tokens/s)',
      'Redis latency p99 by operation',
      'Redis errors and availability',
      'Live sockets and closes',
      'Fan-out delay (revocation event to socket close)',
      'Data loss and token cutoff',
      'Clock skew (Redis minus host)',
      'Sessions (events/s)',
    ]);
    const used = new Set([...metricNames(readFileSync(ALERTS, 'utf8')), ...dashboard.panels.flatMap((panel) => panel.targets.flatMap((t) => [...metricNames(t.expr)]))]);
    expect(used.size).toBeGreaterThan(15);
    // A sign-up, a refused token and a revocation, so the labelled series exist as in production.
    const { token } = await api.signUp('assets_user');
    await api.graphql('mutation { cancelToken }', { token });
    expect((await api.graphql('{ me { id } }', { token })).status).toBe(401);
    // A metric is exported once it has its TYPE line (redis_data_loss_total has series only after a loss, by shard).
    const scraped = new Set([...(await api.metrics()).matchAll(/^# TYPE (graphql_revoke_[a-z_]+) /gm)].map((m) => m[1]!));
    expect([...used].filter((name) => !scraped.has(name))).toEqual([]);
    const text = await api.metrics();
    expect(text).toMatch(/^graphql_revoke_http_responses_total\{route="graphql",status="401"\} [1-9]/m);
    expect(text).toMatch(/^graphql_revoke_session_events_total\{event="started"\} 1$/m);
    expect(text).toMatch(/^graphql_revoke_redis_eviction_policy_refused\{node="[^"]+"\} 0$/m);
  });
});
