import { parseArgs } from 'node:util';
import { type Figure, printTable } from './measure.js';
import { parseBenchmark } from './parse.bench.js';
import { pipelineBenchmark } from './pipeline.bench.js';

const { values } = parseArgs({
  options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
});

if (values.help) {
  console.log(`Usage: npm run bench [-- --json]

Measures every figure the project tracks, each next to a baseline measured in the same run, and prints a table
(or JSON with --json). Ratios are value / baseline; a ratio over its goal is marked MISSED.`);
  process.exit(0);
}

const progress = (line: string) => {
  if (!values.json) console.error(line);
};
const suites: [string, () => Figure[] | Promise<Figure[]>][] = [
  ['parse + normalize', parseBenchmark],
  ['pipeline (Azurite + local Event Grid receiver)', () => pipelineBenchmark(progress)],
];
const figures: Figure[] = [];
for (const [label, run] of suites) {
  if (!values.json) console.error(`running ${label}…`);
  figures.push(...(await run()));
}
if (values.json) console.log(JSON.stringify({ node: process.version, figures }, null, 2));
else printTable(figures, (line) => console.log(line));
