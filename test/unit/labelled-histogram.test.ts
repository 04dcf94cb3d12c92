import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createLabelledHistogram } from '../../src/metric-labels/labelled-histogram.js';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const VALUES = [0, 0.0001, 0.0005, 0.0007, 0.003, 0.04, 0.9, 1, 2, 30];

describe('createLabelledHistogram', () => {
  it("prints exactly what prom-client's Histogram prints for the same observations", async () => {
    const theirs = new Registry();
    const ours = new Registry();
    const reference = new Histogram({ name: 'x_seconds', help: 'Latency.', labelNames: ['operation', 'result'], buckets: BUCKETS, registers: [theirs] });
    const histogram = createLabelledHistogram({ name: 'x_seconds', help: 'Latency.', buckets: BUCKETS, registry: ours });
    for (const [operation, result] of [['isRevoked', 'ok'], ['isRevoked', 'error'], ['revoke', 'ok']] as const) {
      for (const value of VALUES) {
        reference.labels({ operation, result }).observe(value);
        histogram.series({ operation, result }).observe(value);
      }
    }
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain('x_seconds_bucket{le="0.001",operation="isRevoked",result="ok"} 4');
    expect(text).toContain('x_seconds_bucket{le="+Inf",operation="revoke",result="ok"} 10');
    expect(text).toContain('x_seconds_count{operation="isRevoked",result="error"} 10');
  });

  it('gives the same series for the same labels, and skips values that are not finite', async () => {
    const registry = new Registry();
    const histogram = createLabelledHistogram({ name: 'y_seconds', help: 'Y.', buckets: [1], registry });
    const series = histogram.series({ operation: 'a' });
    expect(histogram.series({ operation: 'a' })).toBe(series);
    series.observe(0.5);
    series.observe(Number.NaN);
    series.observe(Number.POSITIVE_INFINITY);
    const text = await registry.metrics();
    expect(text).toContain('y_seconds_count{operation="a"} 1');
    expect(text).toContain('y_seconds_sum{operation="a"} 0.5');
    registry.resetMetrics();
    expect(await registry.metrics()).toContain('y_seconds_count{operation="a"} 0');
  });

  it('refuses buckets that are not ascending', () => {
    expect(() => createLabelledHistogram({ name: 'z', help: 'Z.', buckets: [1, 1], registry: new Registry() })).toThrow(/ascending/);
  });
});
