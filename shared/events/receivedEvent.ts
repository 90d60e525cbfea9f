/** One of our events as an Event Grid trigger hands it over, before a subscriber reads its `data`. */
export interface ReceivedEvent {
  id: string;
  /** `dataverse.<message>`. */
  type: string;
  /** `time` (CloudEvents) or `eventTime` (Event Grid schema), unchecked. */
  time: unknown;
  /** `source` (CloudEvents), unchecked. */
  source: unknown;
  /** The normalized context, as an object (not yet checked field by field). */
  data: Record<string, unknown>;
}

/**
 * Reads the event the Event Grid trigger passes to `projectChanges` and `deliverSubscriptions`: a CloudEvent 1.0
 * object as the pipeline publishes it, or the same event in the Event Grid schema (`eventType`, `eventTime`) when a
 * subscription was created with that schema; a JSON string of either is parsed. Returns the reason when it is not one
 * of ours, for the subscriber to log: retrying such an event cannot help.
 *
 * @example
 * const event = readReceivedEvent(input);
 * if ('notOurs' in event) log.warn(`Ignored: ${event.notOurs}`);
 */
export function readReceivedEvent(event: unknown): ReceivedEvent | { notOurs: string; id?: string } {
  const envelope = asObject(parseIfText(event));
  if (envelope === undefined) return { notOurs: 'it is not a JSON object' };
  const id = typeof envelope.id === 'string' && envelope.id !== '' ? envelope.id : undefined;
  if (id === undefined) return { notOurs: 'it has no id' };
  const type = envelope.type ?? envelope.eventType;
  if (typeof type !== 'string' || !type.startsWith('dataverse.')) {
    return { notOurs: `its type is ${JSON.stringify(type ?? null)}, not one beginning with "dataverse."`, id };
  }
  const data = asObject(parseIfText(envelope.data));
  if (data === undefined) {
    return { notOurs: 'its data is not a normalized Dataverse context (not an object)', id };
  }
  return { id, type, time: envelope.time ?? envelope.eventTime, source: envelope.source, data };
}

function parseIfText(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** The value as a plain JSON object, or `undefined` for anything else (arrays and null included). */
export function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
