/**
 * The plan behind `dataverse-bridge register`: what the registration file asks for, against what Dataverse holds, as
 * create / update (with the fields that differ) / unchanged / delete actions — checked whole before the first write.
 *
 * Values follow the Microsoft Learn table references: `serviceendpoint` (contract 2 Queue, 5 Topic, 8 Webhook; authtype
 * 2 SAS Key, 4 Webhook Key; messageformat 2 Json; connectionmode 1 Normal; namespaceformat 2 Namespace Address;
 * userclaim 1 None), `sdkmessageprocessingstep` (stage 10/20/40, mode 0 sync / 1 async, supporteddeployment 0 Server,
 * lookups bound with `sdkmessageid@odata.bind`, `sdkmessagefilterid@odata.bind`,
 * `eventhandler_serviceendpoint@odata.bind`), `sdkmessageprocessingstepimage` (imagetype 0 PreImage, 1 PostImage) and
 * "Entity images" (which messages carry which image, and their `messagepropertyname`):
 * https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/serviceendpoint, …/sdkmessageprocessingstep,
 * …/sdkmessageprocessingstepimage, …/sdkmessagefilter, and
 * https://learn.microsoft.com/power-apps/developer/data-platform/understand-the-data-context#entity-images.
 */
import { isDataverseError } from '../../shared/dataverseApi/errors.js';
import { STEP_MARKER } from '../../shared/dataverseApi/systemJobs.js';
import type { DataverseApi, Row, TableMetadata } from '../../shared/dataverseApi/types.js';
import type { EndpointSpec, RegistrationFileError, RegistrationSource, StepSpec } from './registrationFile.js';

const STAGE = { preValidation: 10, preOperation: 20, postOperation: 40 } as const;
const MODE = { sync: 0, async: 1 } as const;
/** `stage` and `mode` values by the names the registration file uses. */
export const STAGE_NAME: Record<number, string> = { 10: 'preValidation', 20: 'preOperation', 40: 'postOperation' };
export const MODE_NAME: Record<number, string> = { 0: 'sync', 1: 'async' };

/** Messages that carry images: which ones, and the request property the image is taken from. */
const IMAGES: Record<string, { pre: boolean; post: boolean; property: string }> = {
  create: { pre: false, post: true, property: 'Id' },
  update: { pre: true, post: true, property: 'Target' },
  delete: { pre: true, post: false, property: 'Target' },
  assign: { pre: true, post: true, property: 'Target' },
  setstate: { pre: true, post: true, property: 'EntityMoniker' },
  setstatedynamicentity: { pre: true, post: true, property: 'EntityMoniker' },
};

/** Columns written by `register`; the secrets are never read back (Dataverse does not return them) nor compared. */
const ENDPOINT_COLUMNS = [
  'name',
  'description',
  'contract',
  'connectionmode',
  'authtype',
  'messageformat',
  'userclaim',
  'namespaceaddress',
  'namespaceformat',
  'solutionnamespace',
  'path',
  'saskeyname',
  'url',
];
const STEP_COLUMNS = [
  'name',
  'description',
  'stage',
  'mode',
  'rank',
  'supporteddeployment',
  'asyncautodelete',
  'filteringattributes',
  'statecode',
  '_sdkmessageid_value',
  '_sdkmessagefilterid_value',
];
const IMAGE_COLUMNS = ['name', 'entityalias', 'imagetype', 'messagepropertyname', 'attributes'];
/** Changing these means the key must be sent again. */
const ENDPOINT_AUTH = ['contract', 'authtype', 'namespaceaddress', 'saskeyname', 'url'];

/** The secrets `register` may send: only on create, or when the endpoint's address or key name changes. */
export interface RegistrationSecrets {
  sasKey?: string;
  webhookKey?: string;
  /** Asked only when a key is needed and none is set: the Send rule's key read from Azure (undefined: not named). */
  fromAzure?: () => Promise<string | undefined>;
}

/** One field that differs: Dataverse's value and the file's. */
export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
}

/** One planned action. `apply` performs it (creates fill in the ids later actions need). */
export interface Action {
  kind: 'create' | 'update' | 'unchanged' | 'delete' | 'keep';
  what: 'endpoint' | 'step' | 'image';
  label: string;
  changes?: FieldChange[];
  /** For `keep`: why it is left alone. */
  note?: string;
  apply?: () => Promise<void>;
}

export interface Plan {
  endpointLabel: string;
  actions: Action[];
}

/**
 * Reads what Dataverse holds and plans the registration. Throws a `RegistrationFileError[]` (every mistake, each with its
 * line) when the file asks for something Dataverse cannot do; writes nothing.
 */
export async function planRegistration(
  api: DataverseApi,
  source: RegistrationSource,
  secrets: RegistrationSecrets,
  options: { prune?: boolean; rotateKey?: boolean } = {},
): Promise<Plan> {
  const { registration: file } = source;
  const errors: RegistrationFileError[] = [];
  const resolved = await resolveSteps(api, source, errors);

  const endpointDesired = endpointFields(file.endpoint);
  const { rows: endpoints } = await api.list('serviceendpoint', {
    select: ['serviceendpointid', ...ENDPOINT_COLUMNS],
    filter: `name eq ${quote(file.endpoint.name)}`,
  });
  if (endpoints.length > 1) {
    errors.push(
      source.errorAt(
        ['endpoint', 'name'],
        `${endpoints.length} service endpoints are named "${file.endpoint.name}"; rename or delete the extra ones first`,
      ),
    );
  }
  const existing = endpoints[0];
  const endpointChanges = existing ? differences(existing, endpointDesired) : [];
  const rotate = existing !== undefined && options.rotateKey === true;
  const needsSecret = !existing || rotate || endpointChanges.some((c) => ENDPOINT_AUTH.includes(c.field));
  const secretField = file.endpoint.transport === 'webhook' ? 'authvalue' : 'saskey';
  let secret = file.endpoint.transport === 'webhook' ? secrets.webhookKey : secrets.sasKey;
  if (needsSecret && !secret && secrets.fromAzure) {
    try {
      secret = await secrets.fromAzure();
    } catch (error) {
      const field = file.endpoint.transport === 'webhook' ? 'url' : 'sasKeyName';
      errors.push(source.errorAt(['endpoint', field], (error as Error).message));
    }
  }
  if (needsSecret && !secret && errors.length === 0) {
    const setting = file.endpoint.transport === 'webhook' ? 'DATAVERSE_WEBHOOK_KEY' : 'DATAVERSE_SAS_KEY';
    errors.push(
      source.errorAt(
        ['endpoint'],
        `the endpoint is ${rotate ? 'getting a new key (--rotate-key)' : existing ? 'changing its address or key name' : 'new'}, so its key is needed: set ${setting} (the ${file.endpoint.transport === 'webhook' ? "function's key" : `key of the "${file.endpoint.sasKeyName}" rule`})`,
      ),
    );
  }
  if (errors.length > 0) throw errors;

  const ids = { endpoint: existing ? String(existing.serviceendpointid) : '' };
  const endpointLabel = `endpoint "${file.endpoint.name}" (${describeEndpoint(file.endpoint)})`;
  const withSecret = (fields: Record<string, unknown>) => (needsSecret ? { ...fields, [secretField]: secret } : fields);
  const actions: Action[] = [];
  if (!existing) {
    actions.push({
      kind: 'create',
      what: 'endpoint',
      label: endpointLabel,
      apply: async () => {
        ids.endpoint = (await api.create('serviceendpoint', withSecret(endpointDesired))).id;
      },
    });
  } else if (endpointChanges.length > 0 || rotate) {
    actions.push({
      kind: 'update',
      what: 'endpoint',
      label: endpointLabel,
      // The key is named, never shown: Dataverse does not return it, and the plan is printed.
      changes: [...endpointChanges, ...(rotate ? [{ field: secretField, from: '(hidden)', to: '(hidden)' }] : [])],
      apply: () => api.update('serviceendpoint', ids.endpoint, withSecret(changed(endpointChanges))),
    });
  } else {
    actions.push({ kind: 'unchanged', what: 'endpoint', label: endpointLabel });
  }

  const current = existing
    ? await api.list('sdkmessageprocessingstep', {
        select: ['sdkmessageprocessingstepid', ...STEP_COLUMNS],
        filter: `_eventhandler_value eq ${ids.endpoint}`,
      })
    : { rows: [] };
  const byKey = new Map(current.rows.map((row) => [stepKey(row._sdkmessagefilterid_value, row.stage), row]));
  const matched = new Set<Row>();

  for (const step of resolved) {
    const row = byKey.get(stepKey(step.filterId, step.fields.stage));
    const label = `step ${step.spec.message} of ${step.spec.table} (${STAGE_NAME[step.fields.stage as number]}, ${MODE_NAME[step.fields.mode as number]})`;
    const stepIds = { id: row ? String(row.sdkmessageprocessingstepid) : '' };
    const binds = {
      'sdkmessageid@odata.bind': `/sdkmessages(${step.messageId})`,
      'sdkmessagefilterid@odata.bind': `/sdkmessagefilters(${step.filterId})`,
    };
    if (!row) {
      actions.push({
        kind: 'create',
        what: 'step',
        label,
        apply: async () => {
          stepIds.id = (
            await api.create('sdkmessageprocessingstep', {
              ...step.fields,
              ...binds,
              'eventhandler_serviceendpoint@odata.bind': `/serviceendpoints(${ids.endpoint})`,
            })
          ).id;
        },
      });
    } else {
      matched.add(row);
      const changes = differences(row, step.fields, ['filteringattributes']);
      actions.push(
        changes.length > 0
          ? {
              kind: 'update',
              what: 'step',
              label,
              changes,
              apply: () => api.update('sdkmessageprocessingstep', stepIds.id, changed(changes)),
            }
          : { kind: 'unchanged', what: 'step', label },
      );
    }
    const images = row
      ? (
          await api.list('sdkmessageprocessingstepimage', {
            select: ['sdkmessageprocessingstepimageid', ...IMAGE_COLUMNS],
            filter: `_sdkmessageprocessingstepid_value eq ${stepIds.id}`,
          })
        ).rows
      : [];
    const ours = row ? String(row.description ?? '').includes(STEP_MARKER) : true;
    for (const image of step.images) {
      const found = images.find((i) => Number(i.imagetype) === image.imagetype);
      const imageLabel = `image ${image.name} of ${step.spec.message} of ${step.spec.table} (${String(image.attributes)})`;
      if (!found) {
        actions.push({
          kind: 'create',
          what: 'image',
          label: imageLabel,
          apply: async () => {
            await api.create('sdkmessageprocessingstepimage', {
              ...image,
              'sdkmessageprocessingstepid@odata.bind': `/sdkmessageprocessingsteps(${stepIds.id})`,
            });
          },
        });
        continue;
      }
      const changes = differences(found, image, ['attributes']);
      const imageId = String(found.sdkmessageprocessingstepimageid);
      actions.push(
        changes.length > 0
          ? {
              kind: 'update',
              what: 'image',
              label: imageLabel,
              changes,
              apply: () => api.update('sdkmessageprocessingstepimage', imageId, changed(changes)),
            }
          : { kind: 'unchanged', what: 'image', label: imageLabel },
      );
    }
    // An image the file no longer declares goes, on steps this tool manages.
    for (const image of images) {
      if (!ours || step.images.some((i) => i.imagetype === Number(image.imagetype))) continue;
      const imageId = String(image.sdkmessageprocessingstepimageid);
      actions.push({
        kind: 'delete',
        what: 'image',
        label: `image ${String(image.name)} of ${step.spec.message} of ${step.spec.table}`,
        apply: () => api.delete('sdkmessageprocessingstepimage', imageId),
      });
    }
  }

  for (const row of current.rows) {
    if (matched.has(row)) continue;
    const label = `step "${String(row.name)}" (${STAGE_NAME[Number(row.stage)] ?? row.stage}, ${MODE_NAME[Number(row.mode)] ?? row.mode})`;
    const ours = String(row.description ?? '').includes(STEP_MARKER);
    if (!ours) {
      actions.push({
        kind: 'keep',
        what: 'step',
        label,
        note: 'not in the file; not created by this tool, so left alone',
      });
    } else if (!options.prune) {
      actions.push({ kind: 'keep', what: 'step', label, note: 'not in the file; run with --prune to delete it' });
    } else {
      const stepId = String(row.sdkmessageprocessingstepid);
      actions.push({
        kind: 'delete',
        what: 'step',
        label,
        apply: async () => {
          // Images first: the step's delete would cascade, but stating it keeps the order clear on every version.
          const { rows } = await api.list('sdkmessageprocessingstepimage', {
            select: ['sdkmessageprocessingstepimageid'],
            filter: `_sdkmessageprocessingstepid_value eq ${stepId}`,
          });
          for (const image of rows) {
            await api.delete('sdkmessageprocessingstepimage', String(image.sdkmessageprocessingstepimageid));
          }
          await api.delete('sdkmessageprocessingstep', stepId);
        },
      });
    }
  }
  return { endpointLabel, actions };
}

/** Performs the plan's writes in order; returns how many were made. */
export async function applyPlan(plan: Plan, progress?: (action: Action) => void): Promise<number> {
  let writes = 0;
  for (const action of plan.actions) {
    if (!action.apply) continue;
    await action.apply();
    writes++;
    progress?.(action);
  }
  return writes;
}

interface ResolvedStep {
  spec: StepSpec;
  messageId: string;
  filterId: string;
  fields: Record<string, unknown>;
  images: Array<Record<string, unknown> & { name: string; imagetype: number }>;
}

/** Checks every step against Dataverse (table, columns, message, filter, images, duplicates) and resolves its ids. */
async function resolveSteps(
  api: DataverseApi,
  source: RegistrationSource,
  errors: RegistrationFileError[],
): Promise<ResolvedStep[]> {
  const tables = new Map<string, TableMetadata | undefined>();
  const messages = new Map<string, string | undefined>();
  const seen = new Map<string, number>();
  const resolved: ResolvedStep[] = [];
  for (const [index, spec] of source.registration.steps.entries()) {
    const at = (...path: Array<string | number>) => ['steps', index, ...path];
    const errorCount = errors.length;
    const stage = STAGE[spec.stage ?? 'postOperation'];
    const mode = MODE[spec.mode ?? 'async'];
    const messageKey = spec.message.toLowerCase();

    const key = `${spec.table}/${messageKey}/${stage}`;
    const first = seen.get(key);
    if (first !== undefined) {
      errors.push(
        source.errorAt(
          at(),
          `duplicate step: ${spec.message} of ${spec.table} at ${STAGE_NAME[stage]} is already declared by steps[${first}]; merge the two`,
        ),
      );
      continue;
    }
    seen.set(key, index);
    if (mode === MODE.async && stage !== STAGE.postOperation) {
      errors.push(
        source.errorAt(
          at('stage'),
          `an async step runs only at postOperation; set "mode": "sync" or "stage": "postOperation"`,
        ),
      );
    }
    if (spec.filteringAttributes && messageKey !== 'update') {
      errors.push(
        source.errorAt(
          at('filteringAttributes'),
          `filteringAttributes applies to Update steps only, not ${spec.message}`,
        ),
      );
    }
    const images = IMAGES[messageKey];
    for (const kind of ['preImage', 'postImage'] as const) {
      if (!spec[kind]) continue;
      if (!images) {
        errors.push(source.errorAt(at(kind), `the ${spec.message} message has no images; remove ${kind}`));
      } else if (!images[kind === 'preImage' ? 'pre' : 'post']) {
        errors.push(
          source.errorAt(
            at(kind),
            `the ${spec.message} message has no ${kind === 'preImage' ? 'pre-image (the row does not exist before it)' : 'post-image (the row is gone after it)'}; remove ${kind}`,
          ),
        );
      }
    }

    if (!tables.has(spec.table)) tables.set(spec.table, await tableOrUndefined(api, spec.table));
    const table = tables.get(spec.table);
    if (!table) {
      errors.push(
        source.errorAt(at('table'), `unknown table "${spec.table}": give a table's logical name (e.g. account)`),
      );
      continue;
    }
    const columns = new Set(table.columns.map((c) => c.logicalName));
    for (const list of ['filteringAttributes', 'preImage', 'postImage'] as const) {
      for (const [j, column] of (spec[list] ?? []).entries()) {
        if (!columns.has(column)) {
          errors.push(source.errorAt(at(list, j), `unknown column "${column}" of table ${spec.table}`));
        }
      }
    }

    if (!messages.has(messageKey)) {
      const { rows } = await api.list('sdkmessage', {
        select: ['sdkmessageid', 'name'],
        filter: `name eq ${quote(spec.message)}`,
      });
      messages.set(messageKey, rows[0] ? String(rows[0].sdkmessageid) : undefined);
    }
    const messageId = messages.get(messageKey);
    if (!messageId) {
      errors.push(source.errorAt(at('message'), `unknown message "${spec.message}" (e.g. Create, Update, Delete)`));
      continue;
    }
    const { rows: filters } = await api.list('sdkmessagefilter', {
      select: ['sdkmessagefilterid', 'iscustomprocessingstepallowed'],
      filter: `_sdkmessageid_value eq ${messageId} and primaryobjecttypecode eq ${quote(spec.table)}`,
    });
    const filter = filters[0];
    if (!filter) {
      errors.push(source.errorAt(at('message'), `table ${spec.table} does not support the ${spec.message} message`));
      continue;
    }
    if (filter.iscustomprocessingstepallowed === false) {
      errors.push(
        source.errorAt(at('message'), `Dataverse allows no custom step for ${spec.message} of ${spec.table}`),
      );
      continue;
    }
    if (errors.length > errorCount) continue;

    const name = `Dataverse Bridge: ${spec.message} of ${spec.table}`;
    resolved.push({
      spec,
      messageId,
      filterId: String(filter.sdkmessagefilterid),
      fields: {
        name,
        description: `${STEP_MARKER} Posts the execution context to the bridge's service endpoint. Managed by "dataverse-bridge register"; changes made elsewhere are undone by its next run.`,
        stage,
        mode,
        rank: 1,
        supporteddeployment: 0,
        // Kept, so that `status` and the System Jobs grid show what happened.
        asyncautodelete: false,
        filteringattributes: spec.filteringAttributes ? spec.filteringAttributes.join(',') : null,
      },
      images: (['preImage', 'postImage'] as const)
        .filter((kind) => spec[kind])
        .map((kind) => ({
          name: kind === 'preImage' ? 'PreImage' : 'PostImage',
          entityalias: kind === 'preImage' ? 'PreImage' : 'PostImage',
          imagetype: kind === 'preImage' ? 0 : 1,
          messagepropertyname: (images as { property: string }).property,
          attributes: (spec[kind] as string[]).join(','),
        })),
    });
  }
  return resolved;
}

async function tableOrUndefined(api: DataverseApi, table: string): Promise<TableMetadata | undefined> {
  try {
    return await api.getTable(table);
  } catch (error) {
    if (isDataverseError(error) && error.status === 404) return undefined;
    throw error;
  }
}

function endpointFields(spec: EndpointSpec): Record<string, unknown> {
  const common = {
    name: spec.name,
    ...(spec.description !== undefined ? { description: spec.description } : {}),
    connectionmode: 1,
    messageformat: 2,
    userclaim: 1,
  };
  if (spec.transport === 'webhook') return { ...common, contract: 8, authtype: 4, url: spec.url };
  return {
    ...common,
    contract: spec.transport === 'topic' ? 5 : 2,
    authtype: 2,
    namespaceaddress: `sb://${spec.namespace}.servicebus.windows.net/`,
    namespaceformat: 2,
    solutionnamespace: spec.namespace,
    path: spec.path,
    saskeyname: spec.sasKeyName,
  };
}

function describeEndpoint(spec: EndpointSpec): string {
  return spec.transport === 'webhook'
    ? `webhook ${spec.url}`
    : `${spec.transport} sb://${spec.namespace}.servicebus.windows.net/${spec.path}`;
}

/** The fields of `desired` whose value differs from `row`'s; `sets` are comma lists compared without order. */
function differences(row: Row, desired: Record<string, unknown>, sets: string[] = []): FieldChange[] {
  const changes: FieldChange[] = [];
  for (const [field, to] of Object.entries(desired)) {
    const from = row[field] ?? null;
    const same = sets.includes(field) ? sameSet(from, to) : (from ?? null) === (to ?? null);
    if (!same) changes.push({ field, from, to: to ?? null });
  }
  return changes;
}

function sameSet(a: unknown, b: unknown): boolean {
  const items = (v: unknown) =>
    typeof v === 'string' && v !== ''
      ? v
          .split(',')
          .map((s) => s.trim())
          .sort()
          .join(',')
      : '';
  return items(a) === items(b);
}

function changed(changes: FieldChange[]): Record<string, unknown> {
  return Object.fromEntries(changes.map((c) => [c.field, c.to]));
}

function stepKey(filterId: unknown, stage: unknown): string {
  return `${String(filterId).toLowerCase()}/${Number(stage)}`;
}

/** An OData string literal. */
export function quote(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
