import { afterAll, beforeAll } from 'vitest';
import { testAzurite } from './azurite.js';
import { type PipelineHarness, startPipeline } from './pipeline.js';

/**
 * For a test file: starts a pipeline harness (see {@link startPipeline}) on the run's Azurite before its tests and
 * stops it after them. Returns the harness's getter, for use inside tests (there is none before `beforeAll` ran).
 *
 * @example
 * const harness = pipelineForTests();
 * it('publishes', async () => { await ingest(messages, harness().deps); });
 */
export function pipelineForTests(options?: Parameters<typeof startPipeline>[1]): () => PipelineHarness {
  let harness: PipelineHarness | undefined;
  beforeAll(async () => {
    harness = await startPipeline(testAzurite(), options);
  });
  afterAll(async () => {
    await harness?.stop();
  });
  return () => {
    if (!harness) throw new Error('The pipeline harness is not started yet: use it inside a test.');
    return harness;
  };
}
