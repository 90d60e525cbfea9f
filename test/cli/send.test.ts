import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DATAVERSE_PROPERTIES } from '../../shared/dataverse/transport.js';
import { runSend } from '../../tools/cli/send.js';
import type { OutboundMessage, QueueSender, SendOutcome } from '../../tools/cli/serviceBusSender.js';
import { CONTEXTS_DIR, contextBytes, contextNames } from '../helpers/fixtures.js';
import { freePort } from '../helpers/ports.js';

// The CLI as users run it: the compiled bin (npm test builds before it tests).
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(ROOT, 'dist', 'tools', 'cli', 'main.js');
const SAMPLES = join(ROOT, 'samples');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const SECRET = 'c2VjcmV0LWtleS10aGF0LW11c3Qtbm90LWxlYWs=';

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI without blocking this process, which serves the receiver the CLI posts to. */
function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const { BRIDGE_LOCAL_KEY: _ignored, ...inherited } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...inherited, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface Recorded {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

type Answer = { status: number; body?: unknown };

/** A stand-in for the Functions host: records every request and answers what `answer` says. */
class Receiver {
  readonly requests: Recorded[] = [];
  answer: (request: Recorded) => Answer = () => ({ status: 200, body: { status: 'published' } });
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const recorded = {
          method: req.method ?? '',
          url: new URL(req.url ?? '/', 'http://receiver'),
          headers: req.headers,
          body: Buffer.concat(chunks),
        };
        this.requests.push(recorded);
        const { status, body } = this.answer(recorded);
        res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
        res.end(body === undefined ? undefined : JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  reset(): void {
    this.requests.length = 0;
    this.answer = () => ({ status: 200, body: { status: 'published' } });
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

const receiver = new Receiver();
const scratch = mkdtempSync(join(tmpdir(), 'bridge-send-'));

beforeAll(() => receiver.start());
afterEach(() => receiver.reset());
afterAll(async () => {
  await receiver.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe('dataverse-bridge send: webhook (default)', () => {
  it('posts the exact bytes with the headers Dataverse sends and the key as ?code=', async () => {
    const file = join(CONTEXTS_DIR, 'msdocs-usewebhooks-update-contact.json');
    const result = await cli(['send', file, '--to', receiver.url, '--key', 'k3y/+=']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('[1/1] msdocs-usewebhooks-update-contact.json → 200 published\n');
    expect(result.stdout).toBe('sent 1, accepted 1, failed 0\n');

    expect(receiver.requests).toHaveLength(1);
    const [request] = receiver.requests;
    expect(request?.method).toBe('POST');
    expect(request?.url.pathname).toBe('/api/dataverse/webhook');
    expect(request?.url.searchParams.get('code')).toBe('k3y/+=');
    expect(request?.body.equals(contextBytes('msdocs-usewebhooks-update-contact.json'))).toBe(true);
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['x-ms-dynamics-organization']).toBe('orgname.crm.dynamics.com');
    expect(request?.headers['x-ms-dynamics-entity-name']).toBe('contact');
    expect(request?.headers['x-ms-dynamics-request-name']).toBe('Update');
    expect(request?.headers['x-ms-correlation-request-id']).toBe('b374239d-4233-41a9-8b17-a86cb4f737b5');
    expect(request?.headers['x-request-id']).toMatch(UUID);
  });

  it('takes the key from BRIDGE_LOCAL_KEY, the domain from --organization, and omits code without a key', async () => {
    const file = join(CONTEXTS_DIR, 'albxrm-create-albxrm_alltypes.json');
    const fromEnv = await cli(['send', file, '--to', receiver.url, '--organization', 'fabrikam.crm4.dynamics.com'], {
      BRIDGE_LOCAL_KEY: 'env-key',
    });
    expect(fromEnv.code).toBe(0);
    const noKey = await cli(['send', file, '--to', `${receiver.url}/`]);
    expect(noKey.code).toBe(0);

    const [withKey, without] = receiver.requests;
    expect(withKey?.url.searchParams.get('code')).toBe('env-key');
    expect(withKey?.headers['x-ms-dynamics-organization']).toBe('fabrikam.crm4.dynamics.com');
    expect(without?.url.pathname).toBe('/api/dataverse/webhook');
    expect(without?.url.search).toBe('');
    expect(without?.headers['x-ms-dynamics-organization']).toBe('0ba4ce62d2d64681bc25b3bfb695d4d6.crm.dynamics.com');
    expect(without?.headers['x-ms-dynamics-request-name']).toBe('Create');
    expect(withKey?.headers['x-request-id']).not.toBe(without?.headers['x-request-id']);
  });

  it('sends bad input as it is: a BOM, a JSON object that is no context, text that is no JSON', async () => {
    const bom = join(scratch, 'with-bom.json');
    const original = contextBytes('devkit-pluginside-customapi-devkit_DebugCustomApi.json');
    writeFileSync(bom, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), original]));
    const notJson = join(scratch, 'not-json.txt');
    writeFileSync(notJson, 'hello\u0000 world');
    const bad = join(SAMPLES, 'bad', 'not-a-context.json');
    receiver.answer = (request) =>
      request.body.includes('MessageName')
        ? { status: 200, body: { status: 'published' } }
        : { status: 400, body: { error: { code: 'NotAContext', message: 'MessageName is missing\nat $.' } } };

    const result = await cli(['send', bom, bad, notJson, '--to', receiver.url]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('sent 3, accepted 1, failed 2\n');
    expect(result.stderr).toBe(
      [
        '[1/3] with-bom.json → 200 published',
        '[2/3] not-a-context.json → 400 NotAContext: MessageName is missing at $.',
        '[3/3] not-json.txt → 400 NotAContext: MessageName is missing at $.',
        '',
      ].join('\n'),
    );

    const [first, second, third] = receiver.requests;
    expect(first?.body.equals(readFileSync(bom))).toBe(true);
    expect(first?.headers['x-ms-dynamics-request-name']).toBe('devkit_DebugCustomApi');
    expect(first?.headers['x-ms-dynamics-entity-name']).toBe('none');
    expect(second?.body.equals(readFileSync(bad))).toBe(true);
    expect(second?.headers['x-ms-dynamics-organization']).toBe('contoso.crm.dynamics.com');
    expect(second?.headers['x-ms-dynamics-entity-name']).toBeUndefined();
    expect(second?.headers['x-ms-dynamics-request-name']).toBeUndefined();
    expect(second?.headers['content-type']).toBe('application/json');
    expect(third?.body.toString('utf8')).toBe('hello\u0000 world');
    expect(third?.headers['x-ms-dynamics-organization']).toBe('contoso.crm.dynamics.com');
  });
});

describe('dataverse-bridge send --queue (the local host)', () => {
  it("posts the host's admin invoke with the file text, the Dataverse properties and x-functions-key", async () => {
    receiver.answer = () => ({ status: 202 });
    const file = join(CONTEXTS_DIR, 'mscontactcenter-webhook-update-msdyn_agentstatus.json');
    const result = await cli(['send', file, '--to', receiver.url, '--key', 'host-key', '--queue']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('[1/1] mscontactcenter-webhook-update-msdyn_agentstatus.json → 202\n');
    expect(result.stdout).toBe('sent 1, accepted 1, failed 0\n');

    const [request] = receiver.requests;
    expect(request?.method).toBe('POST');
    expect(request?.url.pathname).toBe('/admin/functions/dataverseQueue');
    expect(request?.url.search).toBe('');
    expect(request?.headers['x-functions-key']).toBe('host-key');
    expect(request?.headers['content-type']).toBe('application/json');
    const body = JSON.parse(request?.body.toString('utf8') ?? '');
    expect(Object.keys(body).sort()).toEqual(['applicationProperties', 'contentType', 'input', 'messageId']);
    expect(body.input).toBe(readFileSync(file, 'utf8'));
    expect(body.contentType).toBe('application/json');
    expect(body.messageId).toMatch(UUID);
    expect(body.applicationProperties).toEqual({
      [DATAVERSE_PROPERTIES.organization]: 'unq6042beb1a93aef118e4b00224802c.crm.dynamics.com',
      [DATAVERSE_PROPERTIES.user]: 'd89254ff-9438-ef11-a315-000d3a5a54dc',
      [DATAVERSE_PROPERTIES.initiatingUser]: 'd89254ff-9438-ef11-a315-000d3a5a54dc',
      [DATAVERSE_PROPERTIES.entityLogicalName]: 'msdyn_agentstatus',
      [DATAVERSE_PROPERTIES.requestName]: 'Update',
      [DATAVERSE_PROPERTIES.initiatingUserAgent]:
        'Microsoft.CCaaS.AssignmentEngineVNext.AssignmentEngineVNext (DataverseSvcClient:1.1.0.11)',
    });
  });

  it('leaves out the user agent a context lacks, and reports a function that threw (500)', async () => {
    receiver.answer = () => ({ status: 500, body: { error: { code: 'StorageUnavailable', message: 'Azurite?' } } });
    const file = join(CONTEXTS_DIR, 'msdocs-usewebhooks-update-contact.json');
    const result = await cli(['send', file, '--to', receiver.url, '--queue', 'dataverse', '--organization', 'x.test']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('[1/1] msdocs-usewebhooks-update-contact.json → 500 StorageUnavailable: Azurite?\n');
    expect(result.stdout).toBe('sent 1, accepted 0, failed 1\n');
    const [request] = receiver.requests;
    expect(request?.headers['x-functions-key']).toBeUndefined();
    const properties = JSON.parse(request?.body.toString('utf8') ?? '').applicationProperties;
    expect(properties[DATAVERSE_PROPERTIES.organization]).toBe('x.test');
    expect(properties[DATAVERSE_PROPERTIES.requestName]).toBe('Update');
    expect(properties).not.toHaveProperty([DATAVERSE_PROPERTIES.initiatingUserAgent]);
  });

  it('says a queue name other than dataverse is not used locally, and reads "--queue <path>" as a path', async () => {
    receiver.answer = () => ({ status: 202 });
    const file = join(SAMPLES, 'contexts', 'msdocs-usewebhooks-update-contact.json');
    const named = await cli(['send', file, '--to', receiver.url, '--queue', 'orders']);
    expect(named.code).toBe(0);
    expect(named.stderr).toContain('the local host feeds the dataverseQueue function directly');
    expect(named.stderr).toContain('"orders"');

    const pathAsName = await cli(['send', '--to', receiver.url, '--queue', file]);
    expect(pathAsName.code).toBe(0);
    expect(pathAsName.stderr).not.toContain('note:');
    expect(pathAsName.stdout).toBe('sent 1, accepted 1, failed 0\n');
    expect(receiver.requests.map((request) => request.url.pathname)).toEqual([
      '/admin/functions/dataverseQueue',
      '/admin/functions/dataverseQueue',
    ]);
  });
});

describe('dataverse-bridge send <folder>', () => {
  it('sends every *.json file in sorted order, prints progress and the summary, exit 1 when some fail', async () => {
    const names = contextNames();
    receiver.answer = (request) => {
      const text = request.body.toString('utf8');
      if (text.includes('msdyn_agentstatus')) return { status: 503, body: { error: { code: 'EventGridUnavailable' } } };
      if (text.includes('EDITED') || text.includes('"Guid:#System"')) return { status: 400, body: { error: {} } };
      return { status: 200, body: { jobId: 'j', eventId: 'e', status: 'published' } };
    };
    const result = await cli(['send', CONTEXTS_DIR, '--to', receiver.url]);
    expect(result.code).toBe(1);

    expect(receiver.requests).toHaveLength(names.length);
    for (const [index, name] of names.entries()) {
      expect(receiver.requests[index]?.body.equals(contextBytes(name)), name).toBe(true);
    }
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(names.length);
    expect(lines.map((line) => /^\[(\d+)\/(\d+)\] (\S+) → /.exec(line)?.slice(1))).toEqual(
      names.map((name, index) => [String(index + 1), String(names.length), name]),
    );
    expect(lines.filter((line) => line.endsWith('→ 503 EventGridUnavailable'))).toHaveLength(2);
    expect(lines.filter((line) => line.endsWith('→ 400'))).toHaveLength(1);
    const accepted = lines.filter((line) => line.endsWith('→ 200 published')).length;
    expect(accepted).toBe(names.length - 3);
    expect(result.stdout).toBe(`sent ${names.length}, accepted ${accepted}, failed 3\n`);
    expect(result.stderr).not.toContain('SOURCES.md');
  });

  it('sends the samples folders: the contexts are accepted, the bad one is answered 400', async () => {
    receiver.answer = (request) =>
      request.body.includes('MessageName')
        ? { status: 200, body: { status: 'published' } }
        : { status: 400, body: { error: { code: 'NotAContext', message: 'not a context' } } };
    const contexts = readdirSync(join(SAMPLES, 'contexts')).filter((name) => name.endsWith('.json'));
    expect(contexts.length).toBeGreaterThanOrEqual(4);
    for (const name of contexts) {
      expect(readFileSync(join(SAMPLES, 'contexts', name)).equals(contextBytes(name)), name).toBe(true);
    }
    const result = await cli(['send', join(SAMPLES, 'contexts'), join(SAMPLES, 'bad'), '--to', receiver.url]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(`sent ${contexts.length + 1}, accepted ${contexts.length}, failed 1\n`);
    expect(result.stderr).toContain(`[${contexts.length + 1}/${contexts.length + 1}] not-a-context.json → 400`);
  });

  it('skips subfolders and files that are not *.json, and exits 2 for a folder without any', async () => {
    const folder = join(scratch, 'mixed');
    mkdirSync(join(folder, 'nested'), { recursive: true });
    copyFileSync(join(CONTEXTS_DIR, 'SOURCES.md'), join(folder, 'SOURCES.md'));
    writeFileSync(join(folder, 'notes.txt'), 'not sent');
    copyFileSync(join(CONTEXTS_DIR, 'msdocs-usewebhooks-update-contact.json'), join(folder, 'nested', 'inner.json'));
    const none = await cli(['send', folder, '--to', receiver.url]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no *.json files');

    copyFileSync(join(CONTEXTS_DIR, 'msdocs-usewebhooks-update-contact.json'), join(folder, 'b.json'));
    copyFileSync(join(CONTEXTS_DIR, 'albxrm-create-albxrm_alltypes.json'), join(folder, 'a.json'));
    const two = await cli(['send', folder, '--to', receiver.url]);
    expect(two.code).toBe(0);
    expect(two.stderr).toBe('[1/2] a.json → 200 published\n[2/2] b.json → 200 published\n');
    expect(receiver.requests).toHaveLength(2);
  });
});

describe('dataverse-bridge send: failures and usage', () => {
  it('exits 1 with a hint when nothing listens at --to', async () => {
    const to = `http://localhost:${await freePort()}`;
    const result = await cli(['send', join(SAMPLES, 'contexts'), '--to', to]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('→ failed: ECONNREFUSED');
    expect(result.stderr).toContain(`is \`npm start\` running at ${to}?`);
    expect(result.stderr.match(/npm start/g)).toHaveLength(1);
    const count = readdirSync(join(SAMPLES, 'contexts')).length;
    expect(result.stdout).toBe(`sent ${count}, accepted 0, failed ${count}\n`);
  });

  it('tells to check the key on 401', async () => {
    receiver.answer = () => ({ status: 401 });
    const result = await cli(['send', join(SAMPLES, 'bad'), '--to', receiver.url, '--key', 'wrong']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('→ 401 (check --key or BRIDGE_LOCAL_KEY)');
  });

  it.each([
    ['an unknown option', ['send', 'samples', '--frobnicate'], "unknown option '--frobnicate'"],
    ['no files', ['send'], 'no files to send'],
    ['a path that does not exist', ['send', join(SAMPLES, 'contexts'), join(SAMPLES, 'nope.json')], 'ENOENT'],
    ['--service-bus without --queue', ['send', join(SAMPLES, 'bad'), '--service-bus', 'Endpoint=sb://x/'], '--queue'],
    [
      '--to that is not a URL',
      ['send', join(SAMPLES, 'bad'), '--to', 'localhost:7071'],
      '--to must be an http(s) URL such as http://localhost:7071',
    ],
  ])('exits 2 and sends nothing on %s', async (_case, args, message) => {
    const result = await cli([...args, ...(args.includes('--to') ? [] : ['--to', receiver.url])]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stdout).toBe('');
    expect(receiver.requests).toHaveLength(0);
  });

  it('never prints the Service Bus secret: a malformed connection string (2), a namespace that refuses (1)', async () => {
    const malformed = await cli([
      'send',
      join(SAMPLES, 'bad'),
      '--queue',
      'dataverse',
      '--service-bus',
      `sb://nowhere;SharedAccessKey=${SECRET}`,
    ]);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/^error: /);
    expect(malformed.stderr + malformed.stdout).not.toContain(SECRET);

    // Nothing listens on AMQP (5671) here: the real SDK fails to connect and its error names the endpoint.
    const refused = await cli([
      'send',
      join(SAMPLES, 'contexts'),
      '--service-bus',
      `Endpoint=sb://localhost/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${SECRET}`,
      '--queue',
      'dataverse',
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('→ failed: ');
    expect(refused.stderr).toContain('ECONNREFUSED');
    expect(refused.stderr + refused.stdout).not.toContain(SECRET);
    expect(refused.stderr + refused.stdout).not.toContain('SharedAccessKey=');
    expect(refused.stdout).toMatch(/^sent \d+, accepted 0, failed \d+\n$/);
  });

  it('explains itself with --help, with examples', async () => {
    const result = await cli(['send', '--help']);
    expect(result.code).toBe(0);
    for (const text of [
      '--to <url>',
      '--key <key>',
      '--queue [name]',
      '--service-bus',
      '--organization',
      'Examples:',
    ]) {
      expect(result.stdout).toContain(text);
    }
    expect((await cli(['--help'])).stdout).toMatch(/send \[options\]/);
  });
});

/** A sender that takes what the test says, in place of a Service Bus namespace. */
class FakeQueueSender implements QueueSender {
  readonly sent: OutboundMessage[] = [];
  closed = false;
  constructor(private readonly outcome: (message: OutboundMessage) => SendOutcome) {}
  async send(messages: readonly OutboundMessage[]): Promise<SendOutcome[]> {
    this.sent.push(...messages);
    return messages.map(this.outcome);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

function collector() {
  let text = '';
  return {
    write: (chunk: string) => {
      text += chunk;
    },
    get text() {
      return text;
    },
  };
}

describe('runSend --service-bus (with a fake sender)', () => {
  const connectionString = `Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=${SECRET}`;

  it('hands the sender the bytes, application/json and the Dataverse properties, and reports each file', async () => {
    const fake = new FakeQueueSender((message) =>
      message.body.includes('MessageName')
        ? { ok: true }
        : { ok: false, code: 'UnauthorizedAccess', message: `denied for ${connectionString}` },
    );
    const opened: string[] = [];
    const out = collector();
    const err = collector();
    const files = [
      join(SAMPLES, 'contexts', 'albxrm-create-albxrm_alltypes.json'),
      join(SAMPLES, 'bad', 'not-a-context.json'),
    ];
    const code = await runSend(files, { serviceBus: connectionString, queue: 'dataverse' }, out, err, {
      openQueueSender: async (cs, queue) => {
        opened.push(cs === connectionString ? 'the connection string' : cs, queue);
        return fake;
      },
    });
    expect(code).toBe(1);
    expect(opened).toEqual(['the connection string', 'dataverse']);
    expect(fake.closed).toBe(true);
    expect(fake.sent).toHaveLength(2);
    const [context, bad] = fake.sent;
    expect(context?.body.equals(contextBytes('albxrm-create-albxrm_alltypes.json'))).toBe(true);
    expect(context?.contentType).toBe('application/json');
    expect(context?.messageId).toMatch(UUID);
    expect(context?.applicationProperties).toEqual({
      [DATAVERSE_PROPERTIES.organization]: '0ba4ce62d2d64681bc25b3bfb695d4d6.crm.dynamics.com',
      [DATAVERSE_PROPERTIES.user]: 'a0bde583-0537-eb11-bf68-0022489b563d',
      [DATAVERSE_PROPERTIES.initiatingUser]: 'a0bde583-0537-eb11-bf68-0022489b563d',
      [DATAVERSE_PROPERTIES.entityLogicalName]: 'albxrm_alltypes',
      [DATAVERSE_PROPERTIES.requestName]: 'Create',
    });
    expect(bad?.body.toString()).toBe('{"hello": "world"}\n');
    expect(bad?.applicationProperties).toEqual({ [DATAVERSE_PROPERTIES.organization]: 'contoso.crm.dynamics.com' });

    expect(err.text).toBe(
      [
        '[1/2] albxrm-create-albxrm_alltypes.json → queued on dataverse',
        '[2/2] not-a-context.json → failed: UnauthorizedAccess: denied for contoso.servicebus.windows.net',
        '',
      ].join('\n'),
    );
    expect(out.text).toBe('sent 2, accepted 1, failed 1\n');
  });

  it('exits 0 when every message is queued, and 2 (nothing opened) without --queue', async () => {
    const fake = new FakeQueueSender(() => ({ ok: true }));
    const out = collector();
    const code = await runSend(
      [join(SAMPLES, 'contexts')],
      { serviceBus: connectionString, queue: 'q' },
      out,
      collector(),
      { openQueueSender: async () => fake },
    );
    expect(code).toBe(0);
    expect(out.text).toBe(`sent ${fake.sent.length}, accepted ${fake.sent.length}, failed 0\n`);
    expect(fake.sent.length).toBeGreaterThanOrEqual(4);

    let opened = false;
    const err = collector();
    const usage = await runSend([join(SAMPLES, 'contexts')], { serviceBus: connectionString, queue: true }, out, err, {
      openQueueSender: async () => {
        opened = true;
        return fake;
      },
    });
    expect(usage).toBe(2);
    expect(opened).toBe(false);
    expect(err.text).toContain('--service-bus needs --queue <name>');
  });
});
