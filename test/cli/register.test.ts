import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DataverseTransport } from '../../shared/dataverseApi/transport.js';
import { WebApiClient } from '../../shared/dataverseApi/webApiClient.js';
import { runRegister } from '../../tools/cli/register.js';
import { DataverseDouble } from '../doubles/dataverse.js';
import { type RegistrationSeed, seedRegistrationTables } from '../doubles/dataverseRegistration.js';
import { close, listen } from '../doubles/http.js';

const SAS_KEY = 'c2VjcmV0LXNhcy1rZXktMTIzNDU2Nzg5MA==';
const WEBHOOK_KEY = 'webhook-key-do-not-print-4711';

let dataverse: DataverseDouble;
let seed: RegistrationSeed;
let dir: string;
let settingsFile: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bridge-register-'));
  settingsFile = join(dir, 'local.settings.json');
  writeFileSync(settingsFile, JSON.stringify({ IsEncrypted: false, Values: {} }));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeEach(async () => {
  dataverse = new DataverseDouble();
  seed = seedRegistrationTables(
    dataverse,
    { account: ['name', 'statuscode', 'telephone1', 'revenue'], contact: ['fullname', 'emailaddress1'] },
    { messagesPerTable: { contact: ['Create', 'Update', 'Delete'] } },
  );
  // A message the account table does not support: Retrieve is seeded, but with no filter for contact.
  await dataverse.start();
});

afterEach(async () => {
  await dataverse.stop();
});

const SAMPLE = {
  endpoint: {
    name: 'Dataverse Bridge',
    transport: 'queue',
    namespace: 'contoso-bridge',
    path: 'dataverse',
    sasKeyName: 'dataverse-send',
  },
  steps: [
    {
      table: 'account',
      message: 'Update',
      filteringAttributes: ['name', 'statuscode'],
      postImage: ['name', 'statuscode'],
    },
    { table: 'contact', message: 'Create' },
  ],
};

function file(content: unknown, name = 'registration.json'): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return path;
}

async function register(
  config: string,
  options: { dryRun?: boolean; prune?: boolean; rotateKey?: boolean; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const env: NodeJS.ProcessEnv = {
    DATAVERSE_URL: dataverse.url,
    AZURE_FUNCTIONS_ENVIRONMENT: 'Development',
    DATAVERSE_SAS_KEY: SAS_KEY,
    ...options.env,
  };
  const code = await runRegister(
    {
      config,
      settings: settingsFile,
      ...(options.dryRun ? { dryRun: true } : {}),
      ...(options.prune ? { prune: true } : {}),
      ...(options.rotateKey ? { rotateKey: true } : {}),
    },
    { write: (s: string) => (stdout += s) },
    { write: (s: string) => (stderr += s) },
    env,
    async (settings) =>
      new WebApiClient(new DataverseTransport({ url: settings.url, timeoutMs: 5_000, retryBudgetMs: 10_000 })),
  );
  return { code, stdout, stderr };
}

const writes = () => dataverse.requests.filter((r) => ['create', 'update', 'delete'].includes(r.kind));
const rows = (table: string, filter = '') =>
  fetch(`${dataverse.url}/api/data/v9.2/${table}s${filter ? `?$filter=${encodeURIComponent(filter)}` : ''}`)
    .then((r) => r.json() as Promise<{ value: Array<Record<string, unknown>> }>)
    .then((b) => b.value);

describe('dataverse-bridge register', () => {
  it('registers the endpoint, the steps and their images from scratch, as the table references describe them', async () => {
    const result = await register(file(SAMPLE));
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      'create    endpoint "Dataverse Bridge" (queue sb://contoso-bridge.servicebus.windows.net/dataverse)',
    );
    expect(result.stdout).toContain('create    step Update of account (postOperation, async)');
    expect(result.stdout).toContain('create    image PostImage of Update of account (name,statuscode)');
    expect(result.stdout).toContain('4 to create, 0 to update, 0 to delete, 0 unchanged.');
    expect(result.stdout).toContain('Applied 4 changes.');

    const [endpoint] = await rows('serviceendpoint');
    expect(endpoint).toMatchObject({
      name: 'Dataverse Bridge',
      contract: 2,
      authtype: 2,
      messageformat: 2,
      connectionmode: 1,
      namespaceaddress: 'sb://contoso-bridge.servicebus.windows.net/',
      path: 'dataverse',
      saskeyname: 'dataverse-send',
    });
    // Not valid for read: Dataverse never returns the key.
    expect(endpoint).not.toHaveProperty('saskey');
    const endpointId = endpoint?.serviceendpointid as string;
    const stored = dataverse.row('serviceendpoint', endpointId);
    expect(stored?.saskey).toBe(SAS_KEY);

    const steps = await rows('sdkmessageprocessingstep');
    expect(steps).toHaveLength(2);
    const update = steps.find((s) => s._sdkmessagefilterid_value === seed.filters['Update/account']);
    expect(update).toMatchObject({
      stage: 40,
      mode: 1,
      supporteddeployment: 0,
      filteringattributes: 'name,statuscode',
      _eventhandler_value: endpointId,
      _sdkmessageid_value: seed.messages.Update,
    });
    expect(String(update?.description)).toContain('[dataverse-bridge]');
    const create = steps.find((s) => s._sdkmessagefilterid_value === seed.filters['Create/contact']);
    expect(create).toMatchObject({ stage: 40, mode: 1, filteringattributes: null });

    const images = await rows('sdkmessageprocessingstepimage');
    expect(images).toEqual([
      expect.objectContaining({
        name: 'PostImage',
        entityalias: 'PostImage',
        imagetype: 1,
        messagepropertyname: 'Target',
        attributes: 'name,statuscode',
        _sdkmessageprocessingstepid_value: update?.sdkmessageprocessingstepid,
      }),
    ]);
    // The key went to Dataverse once, and was never printed.
    expect(result.stdout + result.stderr).not.toContain(SAS_KEY);
  });

  it('changes nothing when run again with the same file', async () => {
    const config = file(SAMPLE);
    await register(config);
    const before = writes().length;
    // The key is not needed any more: the endpoint exists and its address did not change.
    const again = await register(config, { env: { DATAVERSE_SAS_KEY: '' } });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('0 to create, 0 to update, 0 to delete, 4 unchanged.');
    expect(again.stdout).toContain('Nothing to change.');
    expect(writes().length).toBe(before);
  });

  it('updates only what changed, naming the fields that differ', async () => {
    await register(file(SAMPLE));
    const before = writes().length;
    const changed = structuredClone(SAMPLE) as typeof SAMPLE & { steps: Array<Record<string, unknown>> };
    changed.steps[0] = {
      table: 'account',
      message: 'Update',
      mode: 'sync',
      filteringAttributes: ['statuscode', 'name', 'telephone1'],
      postImage: ['statuscode', 'name'],
      preImage: ['revenue'],
    };
    const result = await register(file(changed), { env: { DATAVERSE_SAS_KEY: '' } });
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain(
      'update    step Update of account (postOperation, sync): mode 1 -> 0, filteringattributes "name,statuscode" -> "statuscode,name,telephone1"',
    );
    expect(result.stdout).toContain('create    image PreImage of Update of account (revenue)');
    // The post-image's columns are the same set in another order: unchanged.
    expect(result.stdout).toContain('unchanged image PostImage of Update of account (statuscode,name)');
    expect(result.stdout).toContain('unchanged endpoint');
    expect(result.stdout).toContain('1 to create, 1 to update, 0 to delete, 3 unchanged.');
    const made = writes().slice(before);
    expect(made.map((r) => `${r.method} ${r.path.replace(/\(.*\)/, '(id)')}`)).toEqual([
      'PATCH /api/data/v9.2/sdkmessageprocessingsteps(id)',
      'POST /api/data/v9.2/sdkmessageprocessingstepimages',
    ]);
  });

  it('--prune deletes only the steps it created that the file no longer lists', async () => {
    await register(file(SAMPLE));
    const [endpoint] = await rows('serviceendpoint');
    // A step someone registered by hand on the same endpoint (no marker).
    const [manual] = dataverse.seedRows('sdkmessageprocessingstep', [
      {
        name: 'By hand: Delete of account',
        description: 'registered with the Plug-in Registration Tool',
        stage: 40,
        mode: 1,
        _sdkmessagefilterid_value: seed.filters['Delete/account'],
        _eventhandler_value: endpoint?.serviceendpointid,
      },
    ]);
    const fewer = { ...SAMPLE, steps: [SAMPLE.steps[1]] };

    const without = await register(file(fewer), { env: { DATAVERSE_SAS_KEY: '' } });
    expect(without.stdout).toContain(
      'keep      step "Dataverse Bridge: Update of account" (postOperation, async): not in the file; run with --prune to delete it',
    );
    expect(without.stdout).toContain('not created by this tool, so left alone');
    expect(await rows('sdkmessageprocessingstep')).toHaveLength(3);

    const pruned = await register(file(fewer), { prune: true, env: { DATAVERSE_SAS_KEY: '' } });
    expect(pruned.code).toBe(0);
    expect(pruned.stdout).toContain('delete    step "Dataverse Bridge: Update of account"');
    const left = (await rows('sdkmessageprocessingstep')).map((s) => s.sdkmessageprocessingstepid);
    expect(left).toHaveLength(2);
    expect(left).toContain(manual);
    expect(await rows('sdkmessageprocessingstepimage')).toEqual([]);
  });

  it('--rotate-key sends the new key alone, naming it in the plan without showing it', async () => {
    await register(file(SAMPLE));
    const before = writes().length;
    const rotated = 'bmV3LWtleS1hZnRlci1yZWdlbmVyYXRpb24=';
    const result = await register(file(SAMPLE), { rotateKey: true, env: { DATAVERSE_SAS_KEY: rotated } });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('update    endpoint "Dataverse Bridge"');
    expect(result.stdout).toContain('saskey "(hidden)" -> "(hidden)"');
    expect(result.stdout).toContain('0 to create, 1 to update, 0 to delete, 3 unchanged.');
    expect(result.stdout + result.stderr).not.toContain(rotated);
    expect(writes().length - before).toBe(1);
    const [endpoint] = await rows('serviceendpoint');
    expect(dataverse.row('serviceendpoint', endpoint?.serviceendpointid as string)?.saskey).toBe(rotated);
    const withoutKey = await register(file(SAMPLE), { rotateKey: true, env: { DATAVERSE_SAS_KEY: '' } });
    expect(withoutKey.code).toBe(2);
    expect(withoutKey.stderr).toContain('the endpoint is getting a new key (--rotate-key), so its key is needed');
  });

  it('--dry-run prints the plan and writes nothing', async () => {
    const result = await register(file(SAMPLE), { dryRun: true });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('4 to create, 0 to update, 0 to delete, 0 unchanged.');
    expect(result.stdout).toContain('Dry run: nothing was written.');
    expect(writes()).toEqual([]);
    expect(dataverse.count()).toBeGreaterThan(0);
  });

  it('registers a webhook endpoint with the webhook key, never printing it', async () => {
    const webhook = {
      endpoint: { name: 'Bridge webhook', transport: 'webhook', url: 'https://bridge.azurewebsites.net/api/dataverse' },
      steps: [{ table: 'contact', message: 'Delete', preImage: ['fullname'] }],
    };
    const result = await register(file(webhook), { env: { DATAVERSE_WEBHOOK_KEY: WEBHOOK_KEY } });
    expect(result.code).toBe(0);
    const [endpoint] = await rows('serviceendpoint');
    expect(endpoint).toMatchObject({ contract: 8, authtype: 4, url: 'https://bridge.azurewebsites.net/api/dataverse' });
    expect(dataverse.row('serviceendpoint', endpoint?.serviceendpointid as string)?.authvalue).toBe(WEBHOOK_KEY);
    const [image] = await rows('sdkmessageprocessingstepimage');
    expect(image).toMatchObject({ imagetype: 0, messagepropertyname: 'Target', attributes: 'fullname' });
    expect(result.stdout + result.stderr).not.toContain(WEBHOOK_KEY);
  });

  it('rides out Dataverse throttling (429 with Retry-After) during a registration', async () => {
    dataverse.inject({ kind: 'throttle', retryAfterSeconds: 1 }, { times: 2, match: (r) => r.kind === 'create' });
    const result = await register(file(SAMPLE));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Applied 4 changes.');
    expect(dataverse.requests.filter((r) => r.status === 429)).toHaveLength(2);
    expect(await rows('sdkmessageprocessingstep')).toHaveLength(2);
    // Retried creates did not duplicate anything.
    expect(await rows('serviceendpoint')).toHaveLength(1);
  });
});

describe('dataverse-bridge register: every mistake is found before the first write, with its line', () => {
  /** The sample with one step replaced, written with one property per line so that lines are predictable. */
  async function check(text: string, env: Record<string, string> = {}): Promise<string> {
    const result = await register(file(text, 'bad.json'), { env });
    expect(result.code).toBe(2);
    expect(writes()).toEqual([]);
    expect(result.stderr).toContain('nothing was written');
    return result.stderr;
  }
  const head = `{
  "endpoint": {
    "name": "Dataverse Bridge",
    "transport": "queue",
    "namespace": "contoso-bridge",
    "path": "dataverse",
    "sasKeyName": "dataverse-send"
  },
  "steps": [
`;
  // Line 10 is the first step's first line.

  it('malformed JSON', async () => {
    const stderr = await check(`${head}    { "table": "account", "message": "Update", }\n  ]\n}\n`);
    expect(stderr).toMatch(/bad\.json:10: not valid JSON: /);
  });

  it('a schema violation: an unknown property and a wrong enum value', async () => {
    const stderr = await check(`${head}    {
      "table": "account",
      "message": "Update",
      "stage": "afterwards",
      "postimage": ["name"]
    }
  ]
}
`);
    expect(stderr).toContain(
      'bad.json:13: steps.0.stage: must be one of "preValidation", "preOperation", "postOperation"',
    );
    expect(stderr).toContain('bad.json:14: steps.0: unknown property "postimage"');
  });

  it('a webhook endpoint given a namespace', async () => {
    const stderr = await check(`{
  "endpoint": {
    "name": "x",
    "transport": "webhook",
    "namespace": "contoso-bridge"
  },
  "steps": []
}
`);
    expect(stderr).toContain('bad.json:2: endpoint: "url" is required');
  });

  it('an unknown table', async () => {
    const stderr = await check(`${head}    {
      "table": "acount",
      "message": "Update"
    }
  ]
}
`);
    expect(stderr).toContain('bad.json:11: unknown table "acount"');
  });

  it('an unknown column, in filtering attributes and in an image', async () => {
    const stderr = await check(`${head}    {
      "table": "account",
      "message": "Update",
      "filteringAttributes": ["name"],
      "postImage": [
        "name",
        "telephone9"
      ]
    }
  ]
}
`);
    expect(stderr).toContain('bad.json:16: unknown column "telephone9" of table account');
    expect(stderr).toContain('1 error;');
  });

  it('a message the table does not support (sdkmessagefilter), and an unknown message', async () => {
    const stderr = await check(`${head}    {
      "table": "contact",
      "message": "Retrieve"
    },
    {
      "table": "account",
      "message": "Upsert"
    }
  ]
}
`);
    expect(stderr).toContain('bad.json:12: table contact does not support the Retrieve message');
    expect(stderr).toContain('bad.json:16: unknown message "Upsert"');
  });

  it('an image on a message that has none, or not that one', async () => {
    const stderr = await check(`${head}    {
      "table": "account",
      "message": "Create",
      "preImage": ["name"]
    },
    {
      "table": "account",
      "message": "Retrieve",
      "stage": "preOperation",
      "mode": "sync",
      "postImage": ["name"]
    }
  ]
}
`);
    expect(stderr).toContain('bad.json:13: the Create message has no pre-image');
    expect(stderr).toContain('bad.json:20: the Retrieve message has no images');
    expect(stderr).toContain('bad.json:17: Dataverse allows no custom step for Retrieve of account');
  });

  it('a duplicate step', async () => {
    const stderr = await check(`${head}    { "table": "contact", "message": "Create" },
    {
      "table": "contact",
      "message": "create"
    }
  ]
}
`);
    expect(stderr).toContain(
      'bad.json:11: duplicate step: create of contact at postOperation is already declared by steps[0]',
    );
  });

  it('an async step before the operation, and filtering attributes on Create', async () => {
    const stderr = await check(`${head}    {
      "table": "contact",
      "message": "Create",
      "stage": "preOperation",
      "filteringAttributes": ["fullname"]
    }
  ]
}
`);
    expect(stderr).toContain('bad.json:13: an async step runs only at postOperation');
    expect(stderr).toContain('bad.json:14: filteringAttributes applies to Update steps only');
  });

  it('a new endpoint without its key', async () => {
    const stderr = await check(`${head}    { "table": "contact", "message": "Create" }\n  ]\n}\n`, {
      DATAVERSE_SAS_KEY: '',
    });
    expect(stderr).toContain('bad.json:2: the endpoint is new, so its key is needed: set DATAVERSE_SAS_KEY');
  });
});

describe('dataverse-bridge register: the Send rule key from Azure (ARM listKeys) when the azd environment names it', () => {
  const ARM_KEY = 'YXJtLWxpc3RrZXlzLXNlY3JldC0wMDAx';
  let arm: Server;
  let armUrl: string;
  const calls: Array<{ method: string; url: string; authorization: string | undefined }> = [];
  let answer: { status: number; body: unknown } = { status: 200, body: {} };

  beforeAll(async () => {
    // A local double of "Queues - Authorization Rules - List Keys" (learn.microsoft.com/rest/api/servicebus/
    // controlplane-stable/queues-authorization-rules/list-keys): POST, bearer token, AccessKeys or an error body.
    arm = createServer((req, res) => {
      calls.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
    armUrl = `http://127.0.0.1:${await listen(arm)}`;
  });
  afterAll(() => close(arm));

  const credential = {
    getToken: async () => ({ token: 'user-arm-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
  };
  const azdEnv = {
    DATAVERSE_SAS_KEY: '',
    AZURE_SUBSCRIPTION_ID: '00000000-1111-2222-3333-444444444444',
    AZURE_RESOURCE_GROUP: 'rg-bridge',
    SERVICEBUS_NAMESPACE: 'contoso-bridge',
  };

  async function registerWithArm(env: Record<string, string>, config: string = file(SAMPLE)) {
    let stdout = '';
    let stderr = '';
    const code = await runRegister(
      { config, settings: settingsFile },
      { write: (s: string) => (stdout += s) },
      { write: (s: string) => (stderr += s) },
      { DATAVERSE_URL: dataverse.url, AZURE_FUNCTIONS_ENVIRONMENT: 'Development', ...env },
      async (settings) =>
        new WebApiClient(new DataverseTransport({ url: settings.url, timeoutMs: 5_000, retryBudgetMs: 0 })),
      { credential, resourceManagerUrl: armUrl },
    );
    return { code, stdout, stderr };
  }

  it('reads the primary key of the Send rule with the user credential, and never prints it', async () => {
    calls.length = 0;
    answer = {
      status: 200,
      body: {
        primaryKey: ARM_KEY,
        secondaryKey: 'c2Vjb25kYXJ5',
        primaryConnectionString: `Endpoint=sb://x/;SharedAccessKey=${ARM_KEY}`,
        keyName: 'dataverse-send',
      },
    };
    const result = await registerWithArm(azdEnv);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(calls).toEqual([
      {
        method: 'POST',
        url: '/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-bridge/providers/Microsoft.ServiceBus/namespaces/contoso-bridge/queues/dataverse/authorizationRules/dataverse-send/ListKeys?api-version=2021-11-01',
        authorization: 'Bearer user-arm-token',
      },
    ]);
    const [endpoint] = await rows('serviceendpoint');
    expect(dataverse.row('serviceendpoint', endpoint?.serviceendpointid as string)?.saskey).toBe(ARM_KEY);
    expect(result.stdout + result.stderr).not.toContain(ARM_KEY);
  });

  it('says what to do when Azure refuses, and writes nothing', async () => {
    answer = {
      status: 403,
      body: { error: { code: 'AuthorizationFailed', message: 'The client does not have authorization' } },
    };
    const result = await registerWithArm(azdEnv);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'registration.json:7: cannot read the key of rule "dataverse-send" of queue "dataverse" in contoso-bridge from Azure (AuthorizationFailed): your account needs the listKeys right on it',
    );
    expect(writes()).toEqual([]);
  });

  describe('a webhook endpoint: the dataverseWebhook function key (Web Apps - List Function Keys)', () => {
    const FUNCTION_KEY = 'ZnVuY3Rpb24ta2V5LWZyb20tYXJtLTAwMDI';
    const url = 'https://func-bridge.azurewebsites.net/api/dataverse/webhook';
    const webhookFile = () =>
      file({
        endpoint: { name: 'Bridge webhook from Azure', transport: 'webhook', url },
        steps: [{ table: 'contact', message: 'Create' }],
      });
    const webhookEnv = {
      ...azdEnv,
      DATAVERSE_WEBHOOK_KEY: '',
      AZURE_FUNCTION_APP_NAME: 'func-bridge',
      DATAVERSE_WEBHOOK_URL: url,
    };

    it("reads the function's default key with the user credential, and never prints it", async () => {
      calls.length = 0;
      // A StringDictionary, as the operation answers it.
      answer = {
        status: 200,
        body: {
          id: '/subscriptions/…/functions/dataverseWebhook',
          name: 'dataverseWebhook',
          properties: { default: FUNCTION_KEY },
        },
      };
      const result = await registerWithArm(webhookEnv, webhookFile());
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(calls).toEqual([
        {
          method: 'POST',
          url: '/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-bridge/providers/Microsoft.Web/sites/func-bridge/functions/dataverseWebhook/listkeys?api-version=2024-04-01',
          authorization: 'Bearer user-arm-token',
        },
      ]);
      const endpoint = (await rows('serviceendpoint')).find((row) => row.name === 'Bridge webhook from Azure');
      expect(endpoint).toMatchObject({ contract: 8, authtype: 4, url });
      expect(dataverse.row('serviceendpoint', endpoint?.serviceendpointid as string)?.authvalue).toBe(FUNCTION_KEY);
      expect(result.stdout + result.stderr).not.toContain(FUNCTION_KEY);
    });

    it('does not ask Azure when the environment names another webhook URL, and asks for DATAVERSE_WEBHOOK_KEY', async () => {
      calls.length = 0;
      const result = await registerWithArm(
        { ...webhookEnv, DATAVERSE_WEBHOOK_URL: 'https://other.azurewebsites.net/api/dataverse/webhook' },
        file({
          endpoint: { name: 'Another webhook', transport: 'webhook', url },
          steps: [{ table: 'contact', message: 'Create' }],
        }),
      );
      expect(result.code).toBe(2);
      expect(calls).toEqual([]);
      expect(result.stderr).toContain('set DATAVERSE_WEBHOOK_KEY');
    });

    it('says what to do when Azure refuses, naming the url line, and writes nothing', async () => {
      answer = { status: 403, body: { error: { code: 'AuthorizationFailed', message: 'no' } } };
      const before = writes().length;
      const result = await registerWithArm(
        webhookEnv,
        file({
          endpoint: { name: 'A third webhook', transport: 'webhook', url },
          steps: [{ table: 'contact', message: 'Create' }],
        }),
      );
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(
        /:\d+: cannot read the key of function dataverseWebhook in func-bridge from Azure \(AuthorizationFailed\): your account needs the listKeys right on it .*, or set DATAVERSE_WEBHOOK_KEY/,
      );
      expect(writes()).toHaveLength(before);
    });
  });

  it('does not ask Azure when the environment names another namespace', async () => {
    calls.length = 0;
    const result = await registerWithArm({ ...azdEnv, SERVICEBUS_NAMESPACE: 'other-namespace' });
    expect(result.code).toBe(2);
    expect(calls).toEqual([]);
    expect(result.stderr).toContain('set DATAVERSE_SAS_KEY');
  });
});
