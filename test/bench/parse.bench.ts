import { readContext } from '../../shared/dataverse/index.js';
import { contextBytes, contextNames } from '../helpers/fixtures.js';
import { type Figure, timePerCall } from './measure.js';

/**
 * Parse + normalize throughput over the reference corpus, next to plain JSON.parse of the same bytes in the same
 * run. Goal (issue 2): normalizing costs no more than the JSON.parse itself, so the ratio stays ≤ 2.0.
 */
export function parseBenchmark(): Figure[] {
  const corpus = contextNames().map((name) => contextBytes(name));
  const bytes = corpus.reduce((sum, body) => sum + body.length, 0);
  const baseline = timePerCall(() => {
    for (const body of corpus) JSON.parse(body.toString('utf8'));
  });
  const ours = timePerCall(() => {
    for (const body of corpus) readContext(body);
  });
  const perSecond = (ns: number) => (corpus.length * 1e9) / ns;
  const mbPerSecond = (ns: number) => (bytes * 1e9) / ns / 1e6;
  return [
    {
      suite: 'parse',
      metric: 'contexts/s',
      value: perSecond(ours),
      unit: 'ctx/s',
      baseline: { label: 'JSON.parse', value: perSecond(baseline) },
    },
    {
      suite: 'parse',
      metric: 'throughput',
      value: mbPerSecond(ours),
      unit: 'MB/s',
      baseline: { label: 'JSON.parse', value: mbPerSecond(baseline) },
    },
    {
      suite: 'parse',
      metric: 'time vs JSON.parse',
      value: ours / corpus.length / 1000,
      unit: 'µs/ctx',
      baseline: { label: 'JSON.parse', value: baseline / corpus.length / 1000 },
      ratio: ours / baseline,
      goal: 2,
    },
  ];
}
