import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/localHost.js';
import { seededRandom } from '../helpers/pipeline.js';
import { DEFAULTS, formatReport, judge, type Observed, percentile, runSoak } from './soak.js';
import type { ReceivedDelivery } from './subscriber.js';
import { buildItems, plan, type SoakItem } from './workload.js';

describe('npm run soak, small: every fault class at once', () => {
  it('publishes and delivers every context under one event id, through Event Grid, storage and Dataverse faults, crashes and dropped contexts, and every row converges', async () => {
    const report = await runSoak({
      ...DEFAULTS,
      count: 200,
      bad: 6,
      faultRate: 0.3,
      storageFaultRate: 0.1,
      crashes: 2,
      dropRate: 0.1,
      dataverseFaultRate: 0.3,
      batchSize: 16,
      concurrency: 4,
      seed: 7,
    });
    expect(report.failures).toEqual([]);
    expect(report.ok).toBe(true);
    // A share of the contexts never reached the bridge; every other one was published.
    expect(report.dropped).toBeGreaterThan(0);
    expect(report.published).toBe(200 - report.dropped);
    expect(report.lost).toBe(0);
    // Reconciliation, under the same faults and Dataverse's, repaired every row whose newest change was dropped, once.
    const reconciliation = report.reconciliation;
    expect(reconciliation?.run).toBeDefined();
    expect(reconciliation?.rowsToRepair).toBeGreaterThan(0);
    expect(reconciliation?.rowsRepaired).toBeGreaterThanOrEqual(reconciliation?.rowsToRepair ?? Infinity);
    expect(reconciliation?.rowsUnderTwoIds).toBe(0);
    expect(reconciliation?.secondRun?.gapsFound).toBe(0);
    expect(reconciliation?.convergence.rowsChecked).toBeGreaterThan(100);
    expect(reconciliation?.convergence.notConverged).toEqual([]);
    expect(Object.values(reconciliation?.dataverse.faults ?? {}).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(report.duplicatesPublished).toBe(0);
    expect(report.eventGrid.unexpectedEvents).toBe(0);
    expect(report.eventGrid.violations).toEqual([]);
    // Every published event reached the subscriber (reconciliation's too), each under one delivery id, signed.
    expect(report.subscriber.delivered).toBe(report.published + (reconciliation?.events ?? 0));
    expect(report.subscriber.undelivered).toBe(0);
    expect(report.subscriber.duplicateDeliveries).toBe(0);
    expect(report.subscriber.badSignatures).toBe(0);
    // Every fault class was injected: storage faults of each kind, and the host was killed and came back.
    expect(Object.keys(report.storage.faults).sort()).toEqual(['500', '503', 'reset', 'timeout']);
    expect(report.crashes.count).toBe(2);
    expect(report.redrives.unanswered).toBeGreaterThan(0);
    // One bad input of each kind: the codes are the README's "Bad input" table.
    expect(report.rejectedByCode).toEqual([
      { code: 'EmptyBody', expected: 1, recorded: 1 },
      { code: 'InvalidEncoding', expected: 1, recorded: 1 },
      { code: 'NotAContext', expected: 1, recorded: 1 },
      { code: 'NotJson', expected: 2, recorded: 2 },
      { code: 'UnsupportedMessageFormat', expected: 1, recorded: 1 },
    ]);
    for (const job of report.rejected) expect(job.message.length).toBeGreaterThan(20);
    // Every message went more than once, through both paths, and the receiver did fail requests.
    expect(report.sent.deliveries).toBeGreaterThanOrEqual(2 * 126);
    expect(report.sent.queueBatches).toBeGreaterThan(0);
    expect(report.sent.webhookPosts).toBeGreaterThan(0);
    expect(Object.values(report.eventGrid.faults).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(report.hostErrors).toEqual([]);
    expect(report.latencyMs.p50).toBeLessThanOrEqual(report.latencyMs.p99);
    expect(formatReport(report).at(-1)).toBe('OK: nothing lost, nothing duplicated, every row converged.');
  }, 300_000);
});

describe('the soak workload', () => {
  const items = buildItems({ count: 40, bad: 6, webhookShare: 0.5, random: seededRandom(3), seed: 3 });

  it('builds distinct contexts over both paths, plus one bad input of each kind', () => {
    const contexts = items.filter((item) => item.operationId);
    expect(new Set(contexts.map((item) => item.operationId)).size).toBe(40);
    expect(new Set(contexts.map((item) => item.path))).toEqual(new Set(['queue', 'webhook']));
    // Every reference sample (12) is used, so every table and message of the corpus appears.
    expect(new Set(contexts.map((item) => item.kind)).size).toBe(12);
    expect(items.filter((item) => item.expectedCode).map((item) => item.expectedCode)).toEqual([
      'NotJson',
      'UnsupportedMessageFormat',
      'NotAContext',
      'NotJson',
      'InvalidEncoding',
      'EmptyBody',
    ]);
  });

  it('sends every item at least twice, shuffled', () => {
    const deliveries = plan(items, seededRandom(4));
    const copies = new Map<SoakItem, number>();
    for (const { item } of deliveries) copies.set(item, (copies.get(item) ?? 0) + 1);
    expect(copies.size).toBe(items.length);
    for (const count of copies.values()) expect([2, 3]).toContain(count);
    expect(deliveries.map((d) => d.item.index)).not.toEqual(
      [...deliveries.map((d) => d.item.index)].sort((a, b) => a - b),
    );
  });
});

describe('judging a soak run', () => {
  const [a, b, bad] = [
    item(0, 'op-a'),
    item(1, 'op-b'),
    {
      index: 2,
      path: 'webhook',
      body: Buffer.from(''),
      contentType: 'application/json',
      expectedCode: 'EmptyBody',
      kind: 'empty body',
    } as SoakItem,
  ] as [SoakItem, SoakItem, SoakItem];
  const observed = (overrides: Partial<Observed>): Observed => ({
    options: { ...DEFAULTS },
    items: [a, b, bad],
    deliveries: 6,
    queueBatches: 1,
    webhookPosts: 3,
    firstSent: new Map([
      [a, 0],
      [b, 10],
      [bad, 20],
    ]),
    problems: [],
    redrives: { queueBatches: 0, webhookPosts: 0, deadLettered: 0, unanswered: 0 },
    eventGrid: { requests: 2, faults: {}, violations: [] },
    storage: { requests: 0, faults: {} },
    crashes: { count: 0, downSeconds: 0 },
    firstAccepted: new Map([
      ['op-a', 100],
      ['op-b', 50],
    ]),
    accepted: new Map([
      ['op-a', new Map([['ev-a', 1]])],
      ['op-b', new Map([['ev-b', 1]])],
    ]),
    subscriber: {
      subscriptionId: 'sub',
      deliveries: [delivery('ev-a', 'op-a'), delivery('ev-b', 'op-b')],
      pushes: { invocations: 2, retries: 0, givenUp: 0 },
    },
    rejected: [
      {
        jobId: 'j',
        source: 'webhook',
        code: 'EmptyBody',
        message: 'The body is empty.',
        // sha256 of the empty body.
        rawSha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      },
    ],
    seconds: 2,
    hostOutput: 'POST /api/dataverse/webhook 200 3 ms\nPOST /admin/functions/dataverseQueue 500 9 ms\n',
    ...overrides,
  });

  it('passes a clean run and measures latency from first send to first acceptance', () => {
    const report = judge(observed({}));
    expect(report.ok).toBe(true);
    expect(report.published).toBe(2);
    expect(report.latencyMs).toEqual({ p50: 40, p99: 100, max: 100 });
    expect(report.throughput).toBe(1);
  });

  it('fails on a context under two event ids, a loss, an event nobody sent, a wrong rejection and a 500', () => {
    const report = judge(
      observed({
        accepted: new Map([
          [
            'op-a',
            new Map([
              ['ev-a', 1],
              ['ev-a2', 1],
            ]),
          ],
          ['op-x', new Map([['ev-x', 1]])],
        ]),
        firstAccepted: new Map([['op-a', 100]]),
        subscriber: {
          subscriptionId: 'sub',
          deliveries: [delivery('ev-a', 'op-a'), delivery('ev-a2', 'op-a')],
          pushes: { invocations: 2, retries: 0, givenUp: 0 },
        },
        rejected: [],
        hostOutput: 'POST /api/jobs 500 3 ms\n',
      }),
    );
    expect(report.ok).toBe(false);
    expect(report.lost).toBe(1);
    expect(report.lostContexts).toEqual(['op-b']);
    expect(report.duplicatesPublished).toBe(1);
    expect(report.underTwoIds).toEqual([{ operationId: 'op-a', eventIds: ['ev-a', 'ev-a2'] }]);
    expect(formatReport(report)).toContain('  e.g. context op-a: events ev-a, ev-a2');
    expect(report.failures).toEqual([
      '1 context(s) lost: never published',
      '1 duplicate event(s) published: a context under a second event id',
      '1 event(s) published that were never sent',
      '0 job(s) rejected with EmptyBody, expected 1',
      'the bytes of a bad input (empty body) were not kept',
      '1 failure(s) in the host output',
    ]);
    expect(formatReport(report).at(-1)).toContain('FAILED:');
  });

  it('counts republishes of the same event id and repeated deliveries apart, as the window crashes open', () => {
    const run = observed({
      options: { ...DEFAULTS, storageFaultRate: 0, crashes: 0 },
      accepted: new Map([
        ['op-a', new Map([['ev-a', 3]])],
        ['op-b', new Map([['ev-b', 1]])],
      ]),
      subscriber: {
        subscriptionId: 'sub',
        deliveries: [delivery('ev-a', 'op-a'), delivery('ev-a', 'op-a'), delivery('ev-b', 'op-b')],
        pushes: { invocations: 4, retries: 0, givenUp: 0 },
      },
    });
    const crashed = judge({ ...run, crashes: { count: 1, downSeconds: 1 } });
    expect(crashed.failures).toEqual([]);
    expect(crashed.republishes).toBe(2);
    expect(crashed.republished).toEqual([{ operationId: 'op-a', eventId: 'ev-a', accepted: 3 }]);
    expect(crashed.subscriber).toMatchObject({ received: 3, delivered: 2, repeats: 1, duplicateDeliveries: 0 });
    expect(formatReport(crashed)).toContain('  e.g. context op-a: event ev-a accepted ×3');
    // With no crash and no storage fault, nothing can open that window.
    expect(judge(run).failures).toEqual([
      '2 republish(es) of an event id with no crash or storage fault to explain them',
      '1 repeated delivery(ies) with no crash or storage fault to explain them',
    ]);
  });

  it('fails when the subscriber misses an event, gets one under two delivery ids, a bad signature or a stray one', () => {
    const report = judge(
      observed({
        subscriber: {
          subscriptionId: 'sub',
          deliveries: [
            delivery('ev-a', 'op-a'),
            delivery('ev-a', 'op-a', { deliveryId: 'd-other' }),
            delivery('ev-z', 'op-z', { deliveryId: 'd-other', signatureOk: false }),
          ],
          pushes: { invocations: 3, retries: 0, givenUp: 0 },
        },
      }),
    );
    expect(report.subscriber).toMatchObject({
      undelivered: 1,
      duplicateDeliveries: 2,
      badSignatures: 1,
      unexpected: 1,
    });
    expect(report.failures).toEqual([
      '1 published event(s) never delivered to the subscriber',
      '2 duplicate delivery(ies): an event under two delivery ids',
      '1 delivery(ies) with a wrong signature',
      '1 delivery(ies) of events Event Grid never accepted',
    ]);
  });

  it('does not count dropped contexts as lost; counts reconciliation events as published and fails on rows not converged', () => {
    const reconciliation = {
      tables: 1,
      rowsToRepair: 1,
      run: { rowsChecked: 2, gapsFound: 1, gapsRepaired: 1, pass: 'delta' },
      failedRuns: 0,
      secondRun: { rowsChecked: 0, gapsFound: 0 },
      reconciled: new Map([['account/b', new Map([['ev-r', 1]])]]),
      convergence: { rowsChecked: 2, converged: 2, notConverged: [] },
      dataverse: { requests: 9, faults: { '429': 1 } },
    };
    const run = observed({
      items: [a, { ...b, dropped: true }, bad],
      accepted: new Map([['op-a', new Map([['ev-a', 1]])]]),
      firstAccepted: new Map([['op-a', 100]]),
      subscriber: {
        subscriptionId: 'sub',
        deliveries: [delivery('ev-a', 'op-a'), delivery('ev-r', 'rec')],
        pushes: { invocations: 2, retries: 0, givenUp: 0 },
      },
      reconciliation,
    });
    const report = judge(run);
    expect(report.failures).toEqual([]);
    expect(report).toMatchObject({ dropped: 1, lost: 0, published: 1 });
    expect(report.reconciliation).toMatchObject({ events: 1, rowsRepaired: 1, republishes: 0, rowsUnderTwoIds: 0 });
    expect(report.subscriber).toMatchObject({ delivered: 2, unexpected: 0 });
    expect(formatReport(report)).toContain("converged            2 of 2 rows with Dataverse's; not converged 0");

    const failed = judge({
      ...run,
      reconciliation: {
        ...reconciliation,
        secondRun: { rowsChecked: 1, gapsFound: 1 },
        reconciled: new Map([
          [
            'account/b',
            new Map([
              ['ev-r', 1],
              ['ev-r2', 1],
            ]),
          ],
        ]),
        convergence: {
          rowsChecked: 2,
          converged: 1,
          notConverged: [{ row: 'account/b', differences: ['name: "A" in the bridge, "B" in Dataverse'] }],
        },
      },
    });
    expect(failed.failures).toEqual([
      '1 published event(s) never delivered to the subscriber',
      'the second reconciliation run found 1 gap(s) the first had repaired',
      '1 row(s) repaired by reconciliation under two event ids',
      "1 row(s) not converged with Dataverse's",
    ]);
    expect(formatReport(failed)).toContain('  e.g. account/b: name: "A" in the bridge, "B" in Dataverse');
    const none = judge({ ...run, reconciliation: { ...reconciliation, run: undefined, failedRuns: 10 } });
    expect(none.failures).toContain('no reconciliation run succeeded (10 failed)');
  });

  it('takes nearest-rank percentiles', () => {
    expect(percentile([], 0.5)).toBe(0);
    expect(percentile([5], 0.99)).toBe(5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.5)).toBe(5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.99)).toBe(10);
  });
});

describe('npm run soak: the command line', () => {
  const soak = (args: string[]) =>
    spawnSync(
      process.execPath,
      [join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'test/soak/main.ts', ...args],
      {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        timeout: 60_000,
      },
    );

  it('explains its options with --help', () => {
    const result = soak(['--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Usage: npm run soak [-- --count N]');
    expect(result.stdout).toContain('--fault-rate R');
    expect(result.stdout).toContain('--storage-fault-rate R');
    expect(result.stdout).toContain('--crashes N');
    expect(result.stdout).toContain('--crash-every S');
    expect(result.stdout).toContain('--drop-rate R');
    expect(result.stdout).toContain('--dataverse-fault-rate R');
  });

  it('exits 2 and names the option on a bad value', () => {
    const result = soak(['--count', 'many']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--count must be an integer ≥ 1, got "many".');
    expect(soak(['--storage-fault-rate', '2']).stderr).toContain(
      '--storage-fault-rate must be between 0 and 1, got "2".',
    );
    expect(soak(['--crashes', '1.5']).stderr).toContain('--crashes must be an integer ≥ 0, got "1.5".');
    expect(soak(['--crash-every', '0']).stderr).toContain('--crash-every must be a number of seconds > 0, got "0".');
    expect(soak(['--drop-rate', '1.5']).stderr).toContain('--drop-rate must be between 0 and 1, got "1.5".');
    expect(soak(['--dataverse-fault-rate', 'x']).stderr).toContain(
      '--dataverse-fault-rate must be between 0 and 1, got "x".',
    );
  });
});

function delivery(eventId: string, operationId: string, overrides: Partial<ReceivedDelivery> = {}): ReceivedDelivery {
  return { deliveryId: `d-${eventId}`, eventId, subscriptionId: 'sub', operationId, signatureOk: true, ...overrides };
}

function item(index: number, operationId: string): SoakItem {
  return {
    index,
    path: 'queue',
    body: Buffer.from('{}'),
    contentType: 'application/json',
    operationId,
    kind: 'sample',
  };
}
