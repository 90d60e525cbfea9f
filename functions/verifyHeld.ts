import { app, type InvocationContext } from '@azure/functions';
import { getConfig } from '../shared/config.js';
import { readHoldCheck, verifyQueueName } from '../shared/pipeline/hold.js';
import type { VerifyResult } from '../shared/pipeline/verify.js';
import { getVerifyDeps } from '../shared/runtime.js';

/**
 * One check of a held synchronous context, from the verification queue: publishes it once Dataverse shows its
 * operation committed, records it `rolledBack` when it never did within `BRIDGE_VERIFY_WINDOW_SECONDS`, else queues the
 * next check (see `shared/pipeline/verify.ts`). A thrown error (storage unavailable) makes the host retry the message.
 */
export async function verifyHeld(message: unknown, context: InvocationContext): Promise<VerifyResult> {
  const [deps, { verifyHeld: check }] = await Promise.all([
    getVerifyDeps(),
    import('../shared/pipeline/verify.js'), // on the first check, not at start-up
  ]);
  const parsed = readHoldCheck(message);
  if (!parsed) {
    context.warn(`Message ${String(context.triggerMetadata?.id ?? '')} is not a verification check; dropped.`);
    return { status: 'ignored', reason: 'not a verification check' };
  }
  const result = await check(parsed, { ...deps, log: context });
  context.log(`Job ${parsed.jobId}: ${result.status}${result.reason ? ` (${result.reason})` : ''}`);
  return result;
}

const config = getConfig(); // validates every setting at start-up

// Registered always, like every function file: jobs held before the guard was turned off (BRIDGE_VERIFY_SYNC=false,
// or DATAVERSE_URL removed) still get their checks. The queue is on our storage account, through the same setting.
app.storageQueue('verifyHeld', {
  queueName: verifyQueueName(config.storage.prefix),
  connection: config.storageConnection,
  handler: verifyHeld,
});
