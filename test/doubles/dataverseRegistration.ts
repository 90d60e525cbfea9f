/**
 * The Dataverse tables behind step registration and system jobs, seeded into the {@link DataverseDouble}: their columns
 * and choice values follow the Microsoft Learn table references —
 * serviceendpoint (https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/serviceendpoint:
 * contract 2 Queue, 5 Topic, 8 Webhook; authtype 2 SAS Key, 4 Webhook Key; messageformat 2 Json; `saskey` and
 * `authvalue` are not valid for read), sdkmessage (…/entities/sdkmessage), sdkmessagefilter (…/entities/sdkmessagefilter:
 * `sdkmessageid`, `primaryobjecttypecode`, `iscustomprocessingstepallowed`), sdkmessageprocessingstep
 * (…/entities/sdkmessageprocessingstep: stage 10/20/40, mode 0 Synchronous / 1 Asynchronous, `filteringattributes`,
 * the `eventhandler` lookup bound through `eventhandler_serviceendpoint@odata.bind`, statecode 0 Enabled / 1 Disabled),
 * sdkmessageprocessingstepimage (…/entities/sdkmessageprocessingstepimage: imagetype 0 PreImage, 1 PostImage, 2 Both)
 * and asyncoperation (…/entities/asyncoperation: statecode 0 Ready, 1 Suspended, 2 Locked, 3 Completed; statuscode 0
 * Waiting For Resources, 10 Waiting, 20 In Progress, 21 Pausing, 22 Canceling, 30 Succeeded, 31 Failed, 32 Canceled;
 * `message`, `friendlymessage`, the `owningextensionid` lookup to the step).
 *
 * Only the columns the bridge reads or writes are seeded; an unknown column is refused as Dataverse refuses it.
 */
import { randomUUID } from 'node:crypto';
import type { ColumnSeed, DataverseDouble } from './dataverse.js';

const choice = (logicalName: string, values: Array<[number, string]>, type: ColumnSeed['type'] = 'Picklist') => ({
  logicalName,
  type,
  options: values.map(([value, label]) => ({ value, label })),
});
const text = (logicalName: string, extra: Partial<ColumnSeed> = {}): ColumnSeed => ({
  logicalName,
  type: 'String',
  ...extra,
});
const lookup = (logicalName: string, targets: string[]): ColumnSeed => ({ logicalName, type: 'Lookup', targets });

/** Ids of what {@link seedRegistrationTables} seeded: messages by name, filters by `<message>/<table>`. */
export interface RegistrationSeed {
  messages: Record<string, string>;
  filters: Record<string, string>;
}

/**
 * Seeds the registration tables, the messages Create/Update/Delete/Retrieve, and a filter per message for each given
 * table (Retrieve: `iscustomprocessingstepallowed` false, as for several system messages). Also seeds the business
 * tables themselves with the columns given.
 */
export function seedRegistrationTables(
  dataverse: DataverseDouble,
  tables: Record<string, string[]>,
  options: { messagesPerTable?: Record<string, string[]> } = {},
): RegistrationSeed {
  dataverse.seedTable({
    logicalName: 'serviceendpoint',
    columns: [
      text('name'),
      text('description'),
      choice('contract', [
        [1, 'OneWay'],
        [2, 'Queue'],
        [3, 'Rest'],
        [4, 'TwoWay'],
        [5, 'Topic'],
        [6, 'Queue (Persistent)'],
        [7, 'Event Hub'],
        [8, 'Webhook'],
        [9, 'Event Grid'],
      ]),
      choice('connectionmode', [
        [1, 'Normal'],
        [2, 'Federated'],
      ]),
      choice('authtype', [
        [1, 'ACS'],
        [2, 'SAS Key'],
        [3, 'SAS Token'],
        [4, 'Webhook Key'],
        [5, 'Http Header'],
        [6, 'Http Query String'],
      ]),
      choice('messageformat', [
        [1, 'Binary XML'],
        [2, 'Json'],
        [3, 'Text XML'],
      ]),
      choice('userclaim', [
        [1, 'None'],
        [2, 'UserId'],
      ]),
      choice('namespaceformat', [
        [1, 'Namespace Name'],
        [2, 'Namespace Address'],
      ]),
      text('namespaceaddress'),
      text('solutionnamespace'),
      text('path'),
      text('saskeyname'),
      text('saskey', { validForRead: false }),
      text('url'),
      text('authvalue', { validForRead: false }),
    ],
  });
  dataverse.seedTable({ logicalName: 'sdkmessage', columns: [text('name')] });
  dataverse.seedTable({
    logicalName: 'sdkmessagefilter',
    columns: [
      lookup('sdkmessageid', ['sdkmessage']),
      text('primaryobjecttypecode'),
      { logicalName: 'iscustomprocessingstepallowed', type: 'Boolean' },
    ],
  });
  dataverse.seedTable({
    logicalName: 'sdkmessageprocessingstep',
    columns: [
      text('name'),
      text('description'),
      choice('stage', [
        [10, 'Pre-validation'],
        [20, 'Pre-operation'],
        [30, 'Main Operation'],
        [40, 'Post-operation'],
      ]),
      choice('mode', [
        [0, 'Synchronous'],
        [1, 'Asynchronous'],
      ]),
      { logicalName: 'rank', type: 'Integer' },
      choice('supporteddeployment', [
        [0, 'Server Only'],
        [1, 'Microsoft Dynamics 365 Client for Outlook Only'],
        [2, 'Both'],
      ]),
      { logicalName: 'asyncautodelete', type: 'Boolean' },
      text('filteringattributes'),
      choice(
        'statecode',
        [
          [0, 'Enabled'],
          [1, 'Disabled'],
        ],
        'State',
      ),
      choice(
        'statuscode',
        [
          [1, 'Enabled'],
          [2, 'Disabled'],
        ],
        'Status',
      ),
      lookup('sdkmessageid', ['sdkmessage']),
      lookup('sdkmessagefilterid', ['sdkmessagefilter']),
      lookup('eventhandler', ['plugintype', 'serviceendpoint']),
    ],
  });
  dataverse.seedTable({
    logicalName: 'sdkmessageprocessingstepimage',
    columns: [
      text('name'),
      text('entityalias'),
      choice('imagetype', [
        [0, 'PreImage'],
        [1, 'PostImage'],
        [2, 'Both'],
      ]),
      text('messagepropertyname'),
      text('attributes'),
      lookup('sdkmessageprocessingstepid', ['sdkmessageprocessingstep']),
    ],
  });
  dataverse.seedTable({
    logicalName: 'asyncoperation',
    columns: [
      text('name'),
      choice('operationtype', [
        [1, 'System Event'],
        [10, 'Workflow'],
      ]),
      choice(
        'statecode',
        [
          [0, 'Ready'],
          [1, 'Suspended'],
          [2, 'Locked'],
          [3, 'Completed'],
        ],
        'State',
      ),
      choice(
        'statuscode',
        [
          [0, 'Waiting For Resources'],
          [10, 'Waiting'],
          [20, 'In Progress'],
          [21, 'Pausing'],
          [22, 'Canceling'],
          [30, 'Succeeded'],
          [31, 'Failed'],
          [32, 'Canceled'],
        ],
        'Status',
      ),
      { logicalName: 'message', type: 'Memo' },
      { logicalName: 'friendlymessage', type: 'Memo' },
      { logicalName: 'createdon', type: 'DateTime', validForCreate: false, validForUpdate: false },
      { logicalName: 'completedon', type: 'DateTime', validForCreate: false, validForUpdate: false },
      lookup('owningextensionid', ['sdkmessageprocessingstep']),
    ],
  });

  const names = ['Create', 'Update', 'Delete', 'Retrieve'];
  const ids = dataverse.seedRows(
    'sdkmessage',
    names.map((name) => ({ name })),
  );
  const messages = Object.fromEntries(names.map((name, i) => [name, ids[i] as string]));
  const filters: Record<string, string> = {};
  for (const [table, columns] of Object.entries(tables)) {
    dataverse.seedTable({
      logicalName: table,
      columns: columns.map((logicalName) => ({ logicalName, type: 'String' as const })),
    });
    for (const message of options.messagesPerTable?.[table] ?? names) {
      const [id] = dataverse.seedRows('sdkmessagefilter', [
        {
          _sdkmessageid_value: messages[message],
          primaryobjecttypecode: table,
          iscustomprocessingstepallowed: message !== 'Retrieve',
        },
      ]);
      filters[`${message}/${table}`] = id as string;
    }
  }
  return { messages, filters };
}

/** Adds a system job of a step, as Dataverse records a post to a service endpoint. */
export function seedSystemJob(
  dataverse: DataverseDouble,
  job: { stepId: string; statusCode: number; message?: string; friendlyMessage?: string; createdOn?: Date },
): string {
  const stateCode = job.statusCode >= 30 ? 3 : job.statusCode === 20 ? 2 : job.statusCode === 21 ? 1 : 0;
  const [id] = dataverse.seedRows('asyncoperation', [
    {
      asyncoperationid: randomUUID(),
      name: 'Dataverse Bridge: Update of account',
      operationtype: 1,
      statecode: stateCode,
      statuscode: job.statusCode,
      message: job.message ?? null,
      friendlymessage: job.friendlyMessage ?? null,
      createdon: (job.createdOn ?? new Date()).toISOString(),
      _owningextensionid_value: job.stepId,
    },
  ]);
  return id as string;
}
