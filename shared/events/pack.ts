import { type BridgeEvent, EVENT_GRID_LIMITS, type PublishLimits } from './types.js';

/**
 * Bytes the Event Grid SDK may add to one event on the wire beyond `JSON.stringify(event)`, measured against the real
 * SDK in `test/events/eventGridPublisher.test.ts`:
 *
 * - Without tracing the wire body is exactly as long as `JSON.stringify` of our events (the SDK reorders properties
 *   and re-serializes `time` with `Date#toISOString`, which is how our times are already written): 0 bytes.
 * - When an OpenTelemetry instrumenter is active, the SDK's `cloudEventDistributedTracingEnricherPolicy` copies the
 *   request's W3C `traceparent` header into every event: `,"traceparent":"00-<32 hex>-<16 hex>-<2 hex>"` is 72 bytes.
 *   We reserve it always, because whether tracing is on is decided by whoever configures telemetry, not by us, and
 *   a body over the limit is refused (HTTP 413) on every retry.
 *
 * Not covered: a `tracestate` header, which the same policy copies too (16 bytes plus its length per event). Azure
 * Monitor does not set one; a custom propagator that does would need this margin raised.
 */
export const TRACEPARENT_WIRE_BYTES = 72;

/** The length of `Date#toISOString()` for years 0000–9999, the form the SDK writes `time` in. */
const ISO_TIME_LENGTH = 24;

/** What {@link packEvents} returns. */
export interface PackResult {
  /** Each batch fits one publish request; events keep their input order within a batch. */
  batches: BridgeEvent<unknown>[][];
  /** Events that cannot be published even alone, with their {@link eventSize}. */
  tooLarge: { event: BridgeEvent<unknown>; size: number }[];
}

/**
 * The UTF-8 byte length of `JSON.stringify(event)`.
 *
 * @example
 * eventSize({ ...event, data: { name: 'é' } }); // counts 'é' as 2 bytes
 */
export function eventSize(event: BridgeEvent<unknown>): number {
  return Buffer.byteLength(JSON.stringify(event), 'utf8');
}

/**
 * An upper bound on the bytes the Event Grid SDK writes for `event` inside a request body: its {@link eventSize}
 * plus the tracing margin ({@link TRACEPARENT_WIRE_BYTES}) plus what re-serializing `time` can add (a time written
 * without milliseconds, e.g. `2024-01-01T00:00:00Z`, comes out as `2024-01-01T00:00:00.000Z`).
 *
 * @example
 * wireSize(event) - eventSize(event); // 72 for a time written like Date#toISOString
 */
export function wireSize(event: BridgeEvent<unknown>, size: number = eventSize(event)): number {
  return size + TRACEPARENT_WIRE_BYTES + Math.max(0, ISO_TIME_LENGTH - event.time.length);
}

/**
 * Packs events into as few publish requests as possible (first-fit decreasing by size), each within `limits`
 * counted as the SDK sends it: a JSON array (2 bytes of brackets, 1 byte per separating comma) of events each
 * taking at most {@link wireSize} bytes. Events that cannot fit a request even alone go to `tooLarge`; nothing is
 * dropped. Returns the same event objects it was given.
 *
 * Runs in O(n log n): each event is serialized once, and the first bin with room is found in a max-tree over the
 * bins' free space rather than by scanning them.
 *
 * @example
 * const { batches, tooLarge } = packEvents(events);
 * for (const batch of batches) await publisher.send(batch);
 * for (const { event, size } of tooLarge) reject(event, new EventTooLargeError(size, EVENT_GRID_LIMITS.maxEventBytes));
 */
export function packEvents(
  events: readonly BridgeEvent<unknown>[],
  limits: PublishLimits = EVENT_GRID_LIMITS,
): PackResult {
  // n events cost sum(wire + 1) - 1 + 2 bytes: charging every event its comma leaves maxRequestBytes - 1 per bin.
  const capacity = limits.maxRequestBytes - 1;
  const maxEvent = Math.min(limits.maxEventBytes, limits.maxRequestBytes - 2);
  const tooLarge: PackResult['tooLarge'] = [];
  const fitting: number[] = [];
  const weights = new Float64Array(events.length);
  events.forEach((event, index) => {
    const size = eventSize(event);
    const wire = wireSize(event, size);
    if (wire > maxEvent) tooLarge.push({ event, size });
    else {
      weights[index] = wire + 1;
      fitting.push(index);
    }
  });
  // Stable: equal sizes keep input order, so the result is deterministic.
  fitting.sort((a, b) => (weights[b] as number) - (weights[a] as number) || a - b);

  const bins = new FreeSpaceTree(fitting.length, capacity);
  const counts: number[] = [];
  const binOf = new Int32Array(events.length).fill(-1);
  for (const index of fitting) {
    const weight = weights[index] as number;
    const bin = bins.firstWithRoom(weight);
    binOf[index] = bin;
    const count = (counts[bin] ?? 0) + 1;
    counts[bin] = count;
    bins.take(bin, weight, count >= limits.maxEventsPerRequest);
  }

  // Fill the batches in input order, so each batch lists its events as they came.
  const batches: BridgeEvent<unknown>[][] = counts.map(() => []);
  events.forEach((event, index) => {
    const bin = binOf[index] as number;
    if (bin >= 0) batches[bin]?.push(event);
  });
  return { batches, tooLarge };
}

/**
 * The fewest requests any packing could use: total bytes over the request limit, or the count over the per-request
 * event limit, whichever is larger. Benchmarks compare {@link packEvents} against it.
 *
 * @example
 * packEvents(events).batches.length >= minimumRequests(events); // always
 */
export function minimumRequests(
  events: readonly BridgeEvent<unknown>[],
  limits: PublishLimits = EVENT_GRID_LIMITS,
): number {
  let bytes = 0;
  for (const event of events) bytes += eventSize(event);
  return Math.max(Math.ceil(bytes / limits.maxRequestBytes), Math.ceil(events.length / limits.maxEventsPerRequest));
}

/**
 * A max segment tree over the free bytes of `size` bins, so first-fit finds the leftmost bin with room in O(log n).
 * Bins not opened yet read as empty; as every item fits an empty bin, the search never fails and the bins in use
 * are always a prefix.
 */
class FreeSpaceTree {
  readonly #leaves: number;
  readonly #free: Float64Array;

  constructor(size: number, capacity: number) {
    let leaves = 1;
    while (leaves < size) leaves *= 2;
    this.#leaves = leaves;
    this.#free = new Float64Array(2 * leaves).fill(capacity);
  }

  /** The leftmost bin with at least `weight` bytes free. */
  firstWithRoom(weight: number): number {
    let node = 1;
    while (node < this.#leaves) {
      node *= 2;
      if ((this.#free[node] as number) < weight) node += 1;
    }
    return node - this.#leaves;
  }

  /** Takes `weight` bytes from `bin`; a `full` bin (at the event count limit) takes nothing more. */
  take(bin: number, weight: number, full: boolean): void {
    let node = bin + this.#leaves;
    this.#free[node] = full ? -1 : (this.#free[node] as number) - weight;
    for (node >>= 1; node >= 1; node >>= 1) {
      this.#free[node] = Math.max(this.#free[2 * node] as number, this.#free[2 * node + 1] as number);
    }
  }
}
