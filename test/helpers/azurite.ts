import type { Azurite } from '../../tools/localhost/azurite.js';
import { freePort } from './ports.js';

// Tests start Azurite the same way the local host does.
export { type Azurite, startAzurite } from '../../tools/localhost/azurite.js';

/**
 * Azurite's connection string with one service's endpoint moved to a port nobody listens on, for "storage is down"
 * tests: the account key stays, so a test can check that no error repeats it.
 */
export async function unreachableConnectionString(azurite: Azurite, service: 'Table' | 'Blob'): Promise<string> {
  const port = await freePort();
  return azurite.connectionString.replace(
    new RegExp(`${service}Endpoint=[^;]+`),
    `${service}Endpoint=http://127.0.0.1:${port}/devstoreaccount1`,
  );
}
