import type { TestProject } from 'vitest/node';
import { startAzurite } from '../../tools/localhost/azurite.js';
import type { TestAzurite } from './azurite.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's Azurite (see `testAzurite`). */
    azurite: TestAzurite;
  }
}

/**
 * vitest global setup: one in-memory Azurite for the whole run, on free ports, instead of one per test file (each
 * start costs about 1.4 s). Tests reach it through `testAzurite()`; it stops when the run ends.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const azurite = await startAzurite();
  project.provide('azurite', {
    connectionString: azurite.connectionString,
    tableEndpoint: azurite.tableEndpoint,
    blobEndpoint: azurite.blobEndpoint,
    queueEndpoint: azurite.queueEndpoint,
  });
  return () => azurite.stop();
}
