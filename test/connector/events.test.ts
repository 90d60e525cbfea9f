import { describe, expect, it } from 'vitest';
import { ON_DEMAND_ORGANIZATION_ID, publishEvent } from '../../shared/connector/events.js';
import { pipelineForTests } from '../helpers/pipelineHooks.js';

const ROW = '6d81597f-0f9f-e711-8122-000d3aa2331c';

const harness = pipelineForTests();

describe('POST /api/events (publishEvent)', () => {
  it('publishes the request as a normalized context through the pipeline, with a job record', async () => {
    const response = await publishEvent(
      { table: 'account', rowId: ROW, message: 'Update', attributes: { name: 'Contoso', revenue: 12.5, active: true } },
      harness().deps,
    );
    expect(response.status).toBe(202);
    const result = response.jsonBody as { jobId: string; eventId: string; status: string };
    expect(result.status).toBe('published');

    const event = harness().receiver.events.find((e) => e.id === result.eventId);
    expect(event).toMatchObject({
      type: 'dataverse.update',
      subject: `account/${ROW}`,
      source: `/organizations/${ON_DEMAND_ORGANIZATION_ID}`,
    });
    const data = event?.data as Record<string, unknown>;
    expect(data.messageName).toBe('Update');
    expect(data.changedAttributes).toEqual(['name', 'revenue', 'active']);
    expect((data.inputParameters as { Target: { attributes: unknown } }).Target.attributes).toEqual({
      name: 'Contoso',
      revenue: 12.5,
      active: true,
    });
    expect(data.initiatingUserAgent).toBe('Dataverse Bridge connector (PublishEvent)');

    const job = await harness().jobs.get(result.jobId);
    expect(job).toMatchObject({ status: 'published', source: 'api', table: 'account', rowId: ROW, message: 'Update' });
  });

  it('publishes the same idempotency key once, and every call without one', async () => {
    const request = { table: 'contact', rowId: ROW, message: 'new_Notify', idempotencyKey: 'flow-run-42' };
    const first = (await publishEvent(request, harness().deps)).jsonBody as { eventId: string; status: string };
    const second = (await publishEvent(request, harness().deps)).jsonBody as { eventId: string; status: string };
    expect(first.status).toBe('published');
    expect(second).toEqual({ ...first, status: 'duplicate' });
    expect(harness().receiver.events.filter((e) => e.id === first.eventId)).toHaveLength(1);
    // Row ids are GUIDs: the same row in upper case is the same row (Dataverse writes them in lower case).
    const upper = (await publishEvent({ ...request, rowId: ROW.toUpperCase() }, harness().deps)).jsonBody;
    expect(upper).toEqual({ ...first, status: 'duplicate' });

    const plain = { table: 'contact', rowId: ROW, message: 'new_Notify' };
    const a = (await publishEvent(plain, harness().deps)).jsonBody as { eventId: string };
    const b = (await publishEvent(plain, harness().deps)).jsonBody as { eventId: string };
    expect(a.eventId).not.toBe(b.eventId);
  });

  it('answers 400 naming the field for bad values', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ table: 'bad/table', rowId: ROW, message: 'Update' }, 'table'],
      [{ table: 'account', rowId: '42', message: 'Update' }, 'rowId'],
      [{ table: 'account', rowId: ROW, message: 'no spaces' }, 'message'],
      [{ table: 'account', rowId: ROW, message: 'Update', attributes: { parent: { id: 'x' } } }, 'attributes.parent'],
    ];
    for (const [request, target] of cases) {
      const response = await publishEvent(request as never, harness().deps);
      expect(response.status).toBe(400);
      expect(response.jsonBody).toMatchObject({ error: { code: 'InvalidBody', target } });
    }
  });

  it('answers 503 with Retry-After when Event Grid is down, and the job says failed', async () => {
    harness().receiver.setFault(() => 500);
    try {
      const response = await publishEvent({ table: 'account', rowId: ROW, message: 'Create' }, harness().deps);
      expect(response.status).toBe(503);
      expect(response.headers?.['Retry-After']).toBe('5');
      const jobId = /Job ([0-9a-f]{32})/.exec(JSON.stringify(response.jsonBody))?.[1] as string;
      expect((await harness().jobs.get(jobId))?.status).toBe('failed');
    } finally {
      harness().receiver.setFault(() => 'ok');
    }
  });
});
