import { readContext } from '../../shared/dataverse/index.js';
import { contextBytes, contextNames } from '../helpers/fixtures.js';
import { callsIn, type Figure, nsPerCall, pairedFigure, type Sample, type SuiteOptions } from './measure.js';

/** Length of one timed stretch of ours or of the baseline; a round is one of each. */
const ROUND_MS = 200;

/**
 * Parse + normalize over the reference corpus, next to plain JSON.parse of the same bytes, in alternating rounds.
 * Goal (issue 20): reading a context costs at most 1.3× the JSON.parse of its bytes.
 */
export function parseBenchmark({ rounds, log }: SuiteOptions): Figure[] {
  const corpus = contextNames().map((name) => contextBytes(name));
  const bytes = corpus.reduce((sum, body) => sum + body.length, 0);
  const ours = () => {
    for (const body of corpus) readContext(body);
  };
  const baseline = () => {
    for (const body of corpus) JSON.parse(body.toString('utf8'));
  };
  // Warming up also sizes each side's stretch, so both are timed over about the same wall time.
  const oursCalls = callsIn(ours, ROUND_MS);
  const baselineCalls = callsIn(baseline, ROUND_MS);
  const times: Sample[] = [];
  for (let round = 1; round <= rounds; round++) {
    times.push({ value: nsPerCall(ours, oursCalls), baseline: nsPerCall(baseline, baselineCalls) });
    log(`  parse round ${round}/${rounds}`);
  }
  const suite = 'parse';
  const details = { contexts: corpus.length, bytes };
  return [
    pairedFigure(
      { suite, metric: 'throughput', unit: 'MB/s', baselineLabel: 'JSON.parse', direction: 'rate', details },
      times.map((t) => ({ value: (bytes * 1e3) / t.value, baseline: (bytes * 1e3) / t.baseline })),
    ),
    pairedFigure(
      { suite, metric: 'time per context', unit: 'µs', baselineLabel: 'JSON.parse', direction: 'cost', goal: 1.3 },
      times.map((t) => ({ value: t.value / corpus.length / 1e3, baseline: t.baseline / corpus.length / 1e3 })),
    ),
  ];
}
