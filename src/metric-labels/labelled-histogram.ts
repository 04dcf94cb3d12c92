/**
 * A Prometheus histogram for the per-request path: `observe` is an array walk and three
 * additions on a series made once, nothing allocated, no label checked or hashed.
 *
 * Why not prom-client's Histogram: its `labels(...).observe(v)` re-validates and re-hashes the
 * child's labels into a string on every call (prom-client 15), ~1.7 µs and ~0.3 KB per
 * observation; the token-store latency is observed once per authenticated request (issue 19,
 * docs/benchmarks.md). The exposition is prom-client's own (this object is registered in the
 * same Registry and read by it at scrape time), line for line what a prom-client Histogram
 * with the same buckets and labels prints: `_bucket{le=...,<labels>}` cumulative, `+Inf`,
 * `_sum`, `_count`.
 */
import type { Registry } from 'prom-client';

/** One series: the counts per bucket (not cumulative), the sum and the count. */
export interface HistogramSeries {
  observe(value: number): void;
}

interface Series extends HistogramSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** The value shape prom-client's Registry reads from a metric's `get()`. */
interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName: string;
}

/** Options of {@link createLabelledHistogram}. */
export interface LabelledHistogramOptions {
  name: string;
  help: string;
  /** Upper bounds, ascending. */
  buckets: readonly number[];
  registry: Registry;
}

/** A histogram whose series are made once ({@link LabelledHistogram.series}) and observed cheaply. */
export interface LabelledHistogram {
  /** The series of `labels` (made at first use, then the same object). */
  series(labels: Readonly<Record<string, string>>): HistogramSeries;
}

/** Creates the histogram and registers it in `options.registry`. */
export function createLabelledHistogram(options: LabelledHistogramOptions): LabelledHistogram {
  const { name, help } = options;
  const bounds = Float64Array.from(options.buckets);
  for (let i = 1; i < bounds.length; i++) {
    if (!((bounds[i] as number) > (bounds[i - 1] as number))) throw new Error(`${name}: buckets must be ascending`);
  }
  const all = new Map<string, Series>();

  function makeSeries(labels: Readonly<Record<string, string>>): Series {
    const counts = new Float64Array(bounds.length);
    const series: Series = {
      labels: { ...labels },
      counts,
      sum: 0,
      count: 0,
      observe(value) {
        // NaN and infinities are not latencies: dropped, as no bucket could hold them honestly.
        if (!Number.isFinite(value)) return;
        series.sum += value;
        series.count += 1;
        for (let i = 0; i < bounds.length; i++) {
          if (value <= (bounds[i] as number)) {
            (counts[i] as number) += 1;
            return;
          }
        }
      },
    };
    return series;
  }

  options.registry.registerMetric({
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    async get() {
      const values: MetricValue[] = [];
      for (const series of all.values()) {
        let cumulative = 0;
        for (let i = 0; i < bounds.length; i++) {
          cumulative += series.counts[i] as number;
          values.push({ value: cumulative, labels: { le: bounds[i] as number, ...series.labels }, metricName: `${name}_bucket` });
        }
        values.push({ value: series.count, labels: { le: '+Inf', ...series.labels }, metricName: `${name}_bucket` });
        values.push({ value: series.sum, labels: { ...series.labels }, metricName: `${name}_sum` });
        values.push({ value: series.count, labels: { ...series.labels }, metricName: `${name}_count` });
      }
      return { name, help, type: 'histogram', values, aggregator: 'sum' };
    },
    reset() {
      for (const series of all.values()) {
        series.counts.fill(0);
        series.sum = 0;
        series.count = 0;
      }
    },
  } as unknown as Parameters<Registry['registerMetric']>[0]);

  return {
    series(labels) {
      const key = Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .join('\0');
      let series = all.get(key);
      if (!series) {
        series = makeSeries(labels);
        all.set(key, series);
      }
      return series;
    },
  };
}
