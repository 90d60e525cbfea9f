import { afterAll, beforeAll } from 'vitest';
import { type Azurite, startAzurite } from './azurite.js';
import { type PipelineHarness, startPipeline } from './pipeline.js';

/**
 * For a test file: starts Azurite and a pipeline harness (see {@link startPipeline}) before its tests and stops both
 * after them. Returns the harness's getter, for use inside tests (there is none before `beforeAll` ran).
 *
 * @example
 * const harness = pipelineForTests();
 * it('publishes', async () => { await ingest(messages, harness().deps); });
 */
export function pipelineForTests(options?: Parameters<typeof startPipeline>[1]): () => PipelineHarness {
  let azurite: Azurite | undefined;
  let harness: PipelineHarness | undefined;
  beforeAll(async () => {
    azurite = await startAzurite();
    harness = await startPipeline(azurite, options);
  });
  afterAll(async () => {
    await harness?.stop();
    await azurite?.stop();
  });
  return () => {
    if (!harness) throw new Error('The pipeline harness is not started yet: use it inside a test.');
    return harness;
  };
}
