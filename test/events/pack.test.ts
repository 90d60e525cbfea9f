import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eventSize, minimumRequests, packEvents, TRACEPARENT_WIRE_BYTES, wireSize } from '../../shared/events/pack.js';
import { type BridgeEvent, EVENT_GRID_LIMITS, type PublishLimits } from '../../shared/events/types.js';

/** An event whose {@link eventSize} is exactly `size` bytes (at least the size of the empty event). */
function eventOfSize(size: number, id = '0'): BridgeEvent<unknown> {
  const event: BridgeEvent<{ pad: string }> = {
    specversion: '1.0',
    id,
    source: '/organizations/o',
    type: 'dataverse.update',
    subject: `c/${id}`,
    time: '2024-05-01T12:00:00.000Z',
    datacontenttype: 'application/json',
    data: { pad: '' },
  };
  const base = eventSize(event);
  if (size < base) throw new Error(`an event cannot be smaller than ${base} bytes`);
  event.data.pad = 'x'.repeat(size - base);
  return event;
}

/** An event that costs exactly `weight` bytes of a request (its wire size plus its comma). */
function eventOfWeight(weight: number, id: string): BridgeEvent<unknown> {
  return eventOfSize(weight - 1 - TRACEPARENT_WIRE_BYTES, id);
}

/** What a batch can take up on the wire: the JSON array with every event at its wire size. */
function wireBytes(batch: readonly BridgeEvent<unknown>[]): number {
  return 2 + Math.max(0, batch.length - 1) + batch.reduce((sum, event) => sum + wireSize(event), 0);
}

/** A deterministic pseudo-random sequence (mulberry32), so sizes vary the same way on every run. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Packing in input order, opening a new batch whenever the next event does not fit the current one. */
function inOrderBatches(events: readonly BridgeEvent<unknown>[], limits: PublishLimits): number {
  let batches = 0;
  let used = Number.POSITIVE_INFINITY;
  let count = 0;
  for (const event of events) {
    const weight = wireSize(event) + 1;
    if (used + weight > limits.maxRequestBytes - 1 || count === limits.maxEventsPerRequest) {
      batches++;
      used = 0;
      count = 0;
    }
    used += weight;
    count++;
  }
  return batches;
}

function expectWithinLimits(batches: readonly BridgeEvent<unknown>[][], limits: PublishLimits): void {
  for (const batch of batches) {
    expect(batch.length).toBeGreaterThan(0);
    expect(batch.length).toBeLessThanOrEqual(limits.maxEventsPerRequest);
    expect(wireBytes(batch)).toBeLessThanOrEqual(limits.maxRequestBytes);
    expect(Buffer.byteLength(JSON.stringify(batch))).toBeLessThanOrEqual(limits.maxRequestBytes);
  }
}

describe('eventSize', () => {
  it('is the UTF-8 byte length of the JSON', () => {
    const event = eventOfSize(300);
    const wide = { ...event, data: { name: 'é€😀' } };
    expect(eventSize(event)).toBe(300);
    expect(eventSize(wide)).toBe(Buffer.byteLength(JSON.stringify(wide), 'utf8'));
    expect(eventSize(wide)).toBe(JSON.stringify(wide).length + 1 + 2 + 2);
  });
});

describe('wireSize', () => {
  it('adds the traceparent margin, and what re-serializing a time without milliseconds adds', () => {
    const event = eventOfSize(500);
    const seconds = { ...event, time: '2024-05-01T12:00:00Z' };
    expect(wireSize(event)).toBe(500 + TRACEPARENT_WIRE_BYTES);
    expect(wireSize(seconds)).toBe(eventSize(seconds) + TRACEPARENT_WIRE_BYTES + '.000'.length);
  });
});

describe('packEvents', () => {
  it('packs nothing for no events', () => {
    expect(packEvents([])).toEqual({ batches: [], tooLarge: [] });
    expect(minimumRequests([])).toBe(0);
  });

  it('packs 1,000 events of about 10 KB into at most one request more than the minimum, within the limits', () => {
    const next = random(1);
    const events = Array.from({ length: 1000 }, (_, i) => eventOfSize(9_000 + Math.floor(next() * 2_000), `e${i}`));
    const { batches, tooLarge } = packEvents(events);
    expect(tooLarge).toEqual([]);
    expect(batches.flat()).toHaveLength(1000);
    expect(batches.length).toBeLessThanOrEqual(minimumRequests(events) + 1);
    expectWithinLimits(batches, EVENT_GRID_LIMITS);
  });

  it('packs mixed sizes tightly where packing in input order wastes requests', () => {
    // Weights 5,500 and 4,499 pair up exactly in a 9,999-byte bin; two large or three small ones never fit.
    const limits: PublishLimits = { maxRequestBytes: 10_000, maxEventBytes: 10_000, maxEventsPerRequest: 100 };
    const large = Array.from({ length: 6 }, (_, i) => eventOfWeight(5_500, `large${i}`));
    const small = Array.from({ length: 6 }, (_, i) => eventOfWeight(4_499, `small${i}`));
    const events = [...large, ...small];

    const { batches } = packEvents(events, limits);
    expect(batches).toHaveLength(6);
    expect(minimumRequests(events, limits)).toBe(6);
    expect(inOrderBatches(events, limits)).toBe(9);
    expectWithinLimits(batches, limits);
    for (const batch of batches) expect(wireBytes(batch)).toBe(limits.maxRequestBytes);
  });

  it('keeps the input order within each batch', () => {
    const next = random(2);
    const events = Array.from({ length: 300 }, (_, i) => eventOfSize(1_000 + Math.floor(next() * 50_000), `e${i}`));
    const position = new Map(events.map((event, index) => [event, index]));
    const { batches } = packEvents(events);
    expect(batches.length).toBeGreaterThan(1);
    for (const batch of batches) {
      const positions = batch.map((event) => position.get(event) as number);
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
    }
  });

  it('puts an oversized event in tooLarge with its size and packs the others', () => {
    const huge = eventOfSize(1_300_000, 'huge');
    const a = eventOfSize(2_000, 'a');
    const b = eventOfSize(3_000, 'b');
    const { batches, tooLarge } = packEvents([a, huge, b]);
    expect(tooLarge).toEqual([{ event: huge, size: 1_300_000 }]);
    expect(batches).toEqual([[a, b]]);
    expect(batches[0]?.[0]).toBe(a);
  });

  it('rejects an event that fits only without its wire margin, and accepts one that fits with it', () => {
    const limit = EVENT_GRID_LIMITS.maxRequestBytes;
    const fits = eventOfSize(limit - 2 - TRACEPARENT_WIRE_BYTES, 'fits');
    const over = eventOfSize(limit - 1 - TRACEPARENT_WIRE_BYTES, 'over');
    const { batches, tooLarge } = packEvents([fits, over]);
    expect(batches).toEqual([[fits]]);
    expect(tooLarge).toEqual([{ event: over, size: eventSize(over) }]);
  });

  it('splits 5,001 tiny events into 2 requests when only the event count limits them', () => {
    const limits: PublishLimits = { ...EVENT_GRID_LIMITS, maxRequestBytes: 4 * EVENT_GRID_LIMITS.maxRequestBytes };
    const events = Array.from({ length: 5_001 }, (_, i) => eventOfSize(200, `t${i}`));
    const { batches } = packEvents(events, limits);
    expect(batches.map((batch) => batch.length)).toEqual([5_000, 1]);
    expect(batches[0]?.[0]).toBe(events[0]);
  });

  it('splits 5,001 tiny events into as few 1 MB requests as their wire size allows', () => {
    // A minimal event is ~200 bytes on the wire, so 1 MB holds ~5,000 of them: both limits are in play here.
    const events = Array.from({ length: 5_001 }, (_, i) => eventOfSize(200, `t${i}`));
    const { batches } = packEvents(events);
    const perRequest = Math.floor((EVENT_GRID_LIMITS.maxRequestBytes - 1) / (200 + TRACEPARENT_WIRE_BYTES + 1));
    expect(batches).toHaveLength(Math.ceil(5_001 / perRequest));
    expect(batches.length).toBeGreaterThanOrEqual(minimumRequests(events));
    expectWithinLimits(batches, EVENT_GRID_LIMITS);
  });

  it('holds its invariants for any sizes and limits', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 200, max: 5_000 }), { maxLength: 200 }),
        fc.integer({ min: 300, max: 20_000 }),
        fc.integer({ min: 1, max: 20 }),
        (sizes, maxRequestBytes, maxEventsPerRequest) => {
          const limits: PublishLimits = { maxRequestBytes, maxEventBytes: maxRequestBytes, maxEventsPerRequest };
          const events = sizes.map((size, i) => eventOfSize(size, `e${i}`));
          const { batches, tooLarge } = packEvents(events, limits);
          expectWithinLimits(batches, limits);
          // Every event exactly once; the ones left out could not have fitted any request.
          const placed = [...batches.flat(), ...tooLarge.map((item) => item.event)];
          expect(new Set(placed).size).toBe(events.length);
          for (const { event, size } of tooLarge) {
            expect(size).toBe(eventSize(event));
            expect(wireSize(event) + 2).toBeGreaterThan(maxRequestBytes);
          }
          expect(batches.length).toBeGreaterThanOrEqual(minimumRequests(batches.flat(), limits));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('packs 20,000 events, serializing each once', () => {
    const next = random(3);
    const limits: PublishLimits = { maxRequestBytes: 2_000, maxEventBytes: 2_000, maxEventsPerRequest: 5_000 };
    // Mostly one per request: the worst case for a first-fit that scans every open request. Each event's data counts
    // how often JSON.stringify serializes it (its toJSON is called once per serialization); speed is the benchmark's.
    let serialized = 0;
    const events = Array.from({ length: 20_000 }, (_, i) => {
      const event = eventOfSize(300 + Math.floor(next() * 1_500), `e${i}`) as BridgeEvent<{ pad: string }>;
      const pad = event.data.pad;
      event.data = {
        pad,
        toJSON: () => {
          serialized += 1;
          return { pad };
        },
      } as { pad: string };
      return event;
    });
    serialized = 0;
    const { batches } = packEvents(events, limits);
    expect(batches.flat()).toHaveLength(20_000);
    expect(serialized).toBe(20_000);
    expectWithinLimits(batches, limits);
  });
});
