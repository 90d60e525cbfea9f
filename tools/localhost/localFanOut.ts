// @azure/functions is a webpack-bundled CommonJS module: Node's ESM loader finds only some of its named exports.
import azureFunctions from '@azure/functions';
import type { BridgeEvent, EventPublisher } from '../../shared/events/types.js';
import type { Registration } from './registrations.js';

const { InvocationContext } = azureFunctions;
const KEEP = 1_000;
const ATTEMPTS = 3;

/**
 * The local stand-in for an Event Grid topic: accepts what the pipeline publishes and delivers each event to the
 * app's Event Grid-triggered functions in-process, in the CloudEvents shape the Event Grid trigger passes, retrying a
 * failed delivery like Event Grid would (a few times, then logged). Keeps the latest events for `GET /admin/events`.
 */
export class LocalFanOut implements EventPublisher {
  private readonly recent: BridgeEvent<unknown>[] = [];

  constructor(
    private readonly subscribers: () => readonly Registration[],
    private readonly log: (line: string) => void,
  ) {}

  async send(events: readonly BridgeEvent<unknown>[]): Promise<void> {
    for (const event of events) {
      this.recent.push(event);
      if (this.recent.length > KEEP) this.recent.shift();
    }
    const subscribers = this.subscribers().filter((r) => r.trigger.type === 'eventGridTrigger');
    for (const event of events) {
      for (const subscriber of subscribers) await this.deliver(subscriber, event);
    }
  }

  /** The latest published events, newest first. */
  events(): BridgeEvent<unknown>[] {
    return [...this.recent].reverse();
  }

  private async deliver(subscriber: Registration, event: BridgeEvent<unknown>): Promise<void> {
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        // A copy through JSON, as the trigger receives it over the wire.
        await subscriber.handler(JSON.parse(JSON.stringify(event)), invocationContext(subscriber, this.log));
        return;
      } catch (error) {
        // A failure's own message may say what Event Grid would do next; here this loop is all the retrying there is.
        const reason = (error as { reason?: unknown }).reason;
        const what = typeof reason === 'string' ? reason : (error as Error).message;
        const next = attempt < ATTEMPTS ? 'retrying' : 'giving up (nothing retries it locally)';
        this.log(`  ${subscriber.name}: delivery ${attempt}/${ATTEMPTS} of event ${event.id} failed, ${next}: ${what}`);
      }
    }
  }
}

/** An InvocationContext whose log lines go to the local host's output, prefixed with the function name. */
export function invocationContext(
  registration: Registration,
  log: (line: string) => void,
  triggerMetadata: Record<string, unknown> = {},
): InstanceType<typeof InvocationContext> {
  return new InvocationContext({
    functionName: registration.name,
    triggerMetadata,
    options: { trigger: registration.trigger as never, extraInputs: [], extraOutputs: [] },
    logHandler: (level, ...args) =>
      log(`  [${registration.name}] ${level === 'information' ? '' : `${level}: `}${args.map(String).join(' ')}`),
  });
}
