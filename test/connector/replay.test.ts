import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { replayJob } from '../../shared/connector/replay.js';
import { ingest } from '../../shared/pipeline/ingest.js';
import { distinctContexts, queueMessage } from '../helpers/pipeline.js';
import { pipelineForTests } from '../helpers/pipelineHooks.js';

const harness = pipelineForTests();

describe('POST /api/jobs/{id}/replay (replayJob)', () => {
  it('publishes a failed job from its kept bytes, with the properties it arrived with', async () => {
    const [body] = distinctContexts(1, 'replay-failed') as [Buffer];
    harness().receiver.setFault(() => 500);
    const [failed] = (await ingest([queueMessage(body)], harness().deps)).outcomes;
    harness().receiver.setFault(() => 'ok');
    expect(failed?.status).toBe('failed');
    const jobId = failed?.jobId as string;

    const response = await replayJob(jobId, harness().deps);
    expect(response.status).toBe(200);
    const result = response.jsonBody as { jobId: string; status: string; eventId: string };
    expect(result).toMatchObject({ jobId, status: 'published' });
    const event = harness().receiver.events.find((e) => e.id === result.eventId);
    // The organization URL came from the Service Bus property recorded with the job.
    expect(event?.source).toBe('https://contoso.crm.dynamics.com');
    expect((await harness().jobs.get(jobId))?.status).toBe('published');

    const again = await replayJob(jobId, harness().deps);
    expect(again.status).toBe(409);
    expect(again.jsonBody).toMatchObject({ error: { code: 'NotReplayable', target: 'id' } });
  });

  it('tries a rejected job again, recording the attempt and the reason', async () => {
    const body = Buffer.from('{"MessageName": "Update"}');
    const [rejected] = (await ingest([queueMessage(body)], harness().deps)).outcomes;
    expect(rejected?.status).toBe('rejected');
    const jobId = rejected?.jobId as string;

    const response = await replayJob(jobId, harness().deps);
    expect(response.status).toBe(200);
    expect(response.jsonBody).toMatchObject({ jobId, status: 'rejected', error: { code: 'InvalidValue' } });
    const job = await harness().jobs.get(jobId);
    expect(job).toMatchObject({ status: 'rejected', attempts: 2 });
    expect(job?.raw?.sha256).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('publishes a job rejected after it was read (too large then) once the limit allows it', async () => {
    const [body] = distinctContexts(1, 'replay-too-large') as [Buffer];
    const tight = { maxRequestBytes: 1_000, maxEventBytes: 1_000, maxEventsPerRequest: 10 };
    const [rejected] = (await ingest([queueMessage(body)], { ...harness().deps, limits: tight })).outcomes;
    expect(rejected?.error?.code).toBe('EventTooLarge');
    const jobId = rejected?.jobId as string;

    const response = await replayJob(jobId, harness().deps);
    expect(response.jsonBody).toMatchObject({ jobId, status: 'published' });
    expect(await harness().jobs.get(jobId)).toMatchObject({ status: 'published', attempts: 2 });
  });

  it('refuses a job whose kept bytes were altered, and answers 404 and 400', async () => {
    const body = Buffer.from('not json at all');
    const [rejected] = (await ingest([queueMessage(body)], harness().deps)).outcomes;
    const jobId = rejected?.jobId as string;
    await harness().raw.put(jobId, Buffer.from('tampered'));
    expect((await replayJob(jobId, harness().deps)).jsonBody).toMatchObject({ error: { code: 'RawBodyMissing' } });

    expect((await replayJob('0'.repeat(32), harness().deps)).status).toBe(404);
    expect((await replayJob('not-a-job', harness().deps)).jsonBody).toMatchObject({
      error: { code: 'InvalidParameter', target: 'id' },
    });
  });
});
