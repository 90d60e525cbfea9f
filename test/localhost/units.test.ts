import { describe, expect, it } from 'vitest';
import type { BridgeEvent } from '../../shared/events/types.js';
import { DeliveryFailedError } from '../../shared/subscriptions/deliver.js';
import { LocalFanOut } from '../../tools/localhost/localFanOut.js';
import type { Registration } from '../../tools/localhost/registrations.js';
import { compileRoute } from '../../tools/localhost/routes.js';
import { applySettings, localKey, needsEmbeddedStorage } from '../../tools/localhost/settings.js';

describe('compileRoute (the Functions host route templates)', () => {
  it('matches literals case-insensitively and captures parameters', () => {
    const route = compileRoute('tables/{table}/rows/{id:guid}');
    expect(route.match('Tables/account/ROWS/6d81597f-0f9f-e711-8122-000d3aa2331c')).toEqual({
      table: 'account',
      id: '6d81597f-0f9f-e711-8122-000d3aa2331c',
    });
    expect(route.match('tables/account/rows/not-a-guid')).toBeUndefined();
    expect(route.match('tables/account/rows')).toBeUndefined();
    expect(route.match('tables/account/rows/6d81597f-0f9f-e711-8122-000d3aa2331c/extra')).toBeUndefined();
  });

  it('supports optional and catch-all parameters and decodes segments', () => {
    expect(compileRoute('jobs/{id?}').match('jobs')).toEqual({});
    expect(compileRoute('jobs/{id?}').match('jobs/abc')).toEqual({ id: 'abc' });
    expect(compileRoute('files/{*path}').match('files/a/b%20c')).toEqual({ path: 'a/b c' });
    expect(compileRoute('items/{n:int}').match('items/42')).toEqual({ n: '42' });
    expect(compileRoute('items/{n:int}').match('items/x')).toBeUndefined();
  });
});

describe('local settings', () => {
  it('puts values into the environment without overriding what is already set, ignoring empty ones', () => {
    const env: NodeJS.ProcessEnv = { PORT: '9000' };
    applySettings({ PORT: '7071', DATAVERSE_QUEUE_NAME: 'dataverse', EVENTGRID_TOPIC_KEY: ' ' }, env);
    expect(env).toEqual({
      PORT: '9000',
      DATAVERSE_QUEUE_NAME: 'dataverse',
      AZURE_FUNCTIONS_ENVIRONMENT: 'Development',
    });
  });

  it('runs in Development like Core Tools, unless the environment says otherwise', () => {
    const env: NodeJS.ProcessEnv = { AZURE_FUNCTIONS_ENVIRONMENT: 'Production' };
    applySettings({ AZURE_FUNCTIONS_ENVIRONMENT: 'Staging' }, env);
    expect(env.AZURE_FUNCTIONS_ENVIRONMENT).toBe('Production');
  });

  it('starts embedded storage only when none is configured', () => {
    expect(needsEmbeddedStorage({})).toBe(true);
    expect(needsEmbeddedStorage({ AzureWebJobsStorage: 'UseDevelopmentStorage=true' })).toBe(true);
    expect(
      needsEmbeddedStorage({ AzureWebJobsStorage: 'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k' }),
    ).toBe(false);
    expect(needsEmbeddedStorage({ AzureWebJobsStorage__accountName: 'a' })).toBe(false);
  });

  it('uses BRIDGE_LOCAL_KEY, or a fresh random key', () => {
    expect(localKey({ BRIDGE_LOCAL_KEY: 'k' })).toEqual({ key: 'k', generated: false });
    const first = localKey({});
    expect(first.generated).toBe(true);
    expect(first.key.length).toBeGreaterThanOrEqual(32);
    expect(localKey({}).key).not.toBe(first.key);
  });
});

describe('LocalFanOut', () => {
  const event = (id: string): BridgeEvent<unknown> => ({
    specversion: '1.0',
    id,
    source: '/organizations/x',
    type: 'dataverse.update',
    subject: 'contact/1',
    time: '2017-09-26T07:04:08.000Z',
    datacontenttype: 'application/json',
    data: { messageName: 'Update' },
  });

  function subscriber(name: string, handler: Registration['handler']): Registration {
    return { name, trigger: { type: 'eventGridTrigger', name: 'event' }, bindings: {}, handler };
  }

  it('delivers copies of each event to every Event Grid-triggered function, and keeps the latest newest first', async () => {
    const received: unknown[] = [];
    const sent = [event('a'), event('b')];
    const http: Registration = {
      name: 'web',
      trigger: { type: 'httpTrigger', name: 'req' },
      bindings: {},
      handler: () => received.push('http!'),
    };
    const fanOut = new LocalFanOut(
      () => [
        subscriber('one', (e) => received.push(['one', e])),
        subscriber('two', (e) => received.push(['two', e])),
        http,
      ],
      () => {},
    );
    await fanOut.send(sent);
    expect(received).toEqual([
      ['one', sent[0]],
      ['two', sent[0]],
      ['one', sent[1]],
      ['two', sent[1]],
    ]);
    expect((received[0] as [string, unknown])[1]).not.toBe(sent[0]);
    expect(fanOut.events().map((e) => e.id)).toEqual(['b', 'a']);
  });

  it('retries a failing delivery a few times, logs it, and does not fail the publish', async () => {
    let calls = 0;
    const lines: string[] = [];
    const fanOut = new LocalFanOut(
      () => [
        subscriber('flaky', () => {
          calls++;
          if (calls < 3) throw new Error('boom');
        }),
        subscriber('broken', () => {
          throw new Error('always');
        }),
      ],
      (line) => lines.push(line),
    );
    await fanOut.send([event('a')]);
    expect(calls).toBe(3);
    expect(lines.filter((line) => line.includes('flaky'))).toHaveLength(2);
    expect(lines.filter((line) => line.includes('broken'))).toHaveLength(3);
  });

  it('says on the last attempt that it gave up, not that Event Grid will retry', async () => {
    const lines: string[] = [];
    const fanOut = new LocalFanOut(
      () => [
        subscriber('deliverSubscriptions', () => {
          throw new DeliveryFailedError('a', 1, 2);
        }),
      ],
      (line) => lines.push(line),
    );
    await fanOut.send([event('a')]);
    expect(lines).toHaveLength(3);
    expect(lines.join('\n')).not.toContain('Event Grid will retry');
    expect(lines[0]).toContain('delivery 1/3 of event a failed, retrying: 1 of 2 subscription callbacks failed');
    expect(lines[2]).toContain('delivery 3/3 of event a failed, giving up (nothing retries it locally)');
  });
});
