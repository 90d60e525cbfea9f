import { inject } from 'vitest';
import type { Azurite } from '../../tools/localhost/azurite.js';
import { freePort } from './ports.js';

// Tests start Azurite the same way the local host does: once per run (test/helpers/globalAzurite.ts), and the
// benchmark, which runs outside vitest, once per suite.
export { type Azurite, startAzurite } from '../../tools/localhost/azurite.js';

/** The endpoints of the run's Azurite; only the global setup may stop it. */
export type TestAzurite = Pick<Azurite, 'connectionString' | 'tableEndpoint' | 'blobEndpoint' | 'queueEndpoint'>;

/**
 * The Azurite every test file of the run shares, started by vitest's global setup (`globalAzurite.ts`). Files keep
 * out of each other's way by using tables and containers of their own (random names or prefixes).
 *
 * @example
 * const azurite = testAzurite();
 * const client = TableClient.fromConnectionString(azurite.connectionString, `jobs${randomBytes(6).toString('hex')}`);
 */
export function testAzurite(): TestAzurite {
  return inject('azurite');
}

/**
 * Azurite's connection string with one service's endpoint moved to a port nobody listens on, for "storage is down"
 * tests: the account key stays, so a test can check that no error repeats it.
 */
export async function unreachableConnectionString(
  azurite: TestAzurite,
  service: 'Table' | 'Blob' | 'Queue',
): Promise<string> {
  const port = await freePort();
  return azurite.connectionString.replace(
    new RegExp(`${service}Endpoint=[^;]+`),
    `${service}Endpoint=http://127.0.0.1:${port}/devstoreaccount1`,
  );
}
