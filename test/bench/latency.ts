import { type Figure, pairedFigure } from './measure.js';

/** The percentiles the latency suite reports. */
export const PERCENTILES = [50, 95, 99] as const;
export type Percentile = (typeof PERCENTILES)[number];

/**
 * The nearest-rank percentile: the smallest value that at least `p` percent of the values are at or below. Always one
 * of the values measured (never interpolated), so the p99 of 40 latencies is the slowest of them, and says so.
 *
 * @example
 * percentile([5, 1, 4, 2, 3], 50); // 3
 * percentile([5, 1, 4, 2, 3], 99); // 5
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError('percentile of no values');
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil((p / 100) * sorted.length) - 1] as number;
}

/** p50, p95 and p99 of one round's latencies. */
export function latencyPercentiles(values: readonly number[]): Record<Percentile, number> {
  return { 50: percentile(values, 50), 95: percentile(values, 95), 99: percentile(values, 99) };
}

/** One round at one concurrency: each context's latency through the app, and each context's bare storage writes. */
export interface LatencyRound {
  ours: readonly number[];
  baseline: readonly number[];
}

/**
 * The latency figures for one concurrency: p50, p95 and p99, each the median over the rounds of that round's
 * percentile, next to the same percentile of the baseline measured in the same round (see {@link pairedFigure}).
 */
export function latencyFigures(
  inFlight: number,
  rounds: readonly LatencyRound[],
  spec: { suite: string; baselineLabel: string; details?: Record<string, unknown> },
): Figure[] {
  const perRound = rounds.map((round) => ({
    ours: latencyPercentiles(round.ours),
    baseline: latencyPercentiles(round.baseline),
  }));
  return PERCENTILES.map((p) =>
    pairedFigure(
      {
        suite: spec.suite,
        metric: `p${p}, ${inFlight} in flight`,
        unit: 'ms',
        baselineLabel: spec.baselineLabel,
        direction: 'cost',
        details: { ...spec.details, inFlight, contextsPerRound: rounds[0]?.ours.length ?? 0 },
      },
      perRound.map((round) => ({ value: round.ours[p], baseline: round.baseline[p] })),
    ),
  );
}
