import { DataverseRequestError, DataverseUnavailableError } from '../../shared/dataverseApi/errors.js';
import type { TransportClock } from '../../shared/dataverseApi/transport.js';
import { DataverseDouble } from '../doubles/dataverse.js';

/** A clock whose sleep returns at once and moves time on: retry tests neither wait nor depend on timing. */
export function fakeClock(random = 0.5): TransportClock & { slept: number[] } {
  let now = 1_000_000;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
    random: () => random,
  };
}

/** The tables the client tests use: account (change tracking on) and contact, with lookups and choices. */
export function seedTables(dataverse: DataverseDouble): void {
  dataverse.seedTable({
    logicalName: 'account',
    displayName: 'Account',
    primaryNameAttribute: 'name',
    changeTracking: true,
    columns: [
      { logicalName: 'name', type: 'String', displayName: 'Account Name', requiredLevel: 'ApplicationRequired' },
      { logicalName: 'revenue', type: 'Money', displayName: 'Annual Revenue' },
      { logicalName: 'numberofemployees', type: 'Integer', displayName: 'Number of Employees' },
      {
        logicalName: 'industrycode',
        type: 'Picklist',
        displayName: 'Industry',
        options: [
          { value: 1, label: 'Accounting' },
          { value: 2, label: 'Agriculture and Non-petrol Natural Resource Extraction' },
        ],
      },
      {
        logicalName: 'statecode',
        type: 'State',
        displayName: 'Status',
        options: [
          { value: 0, label: 'Active' },
          { value: 1, label: 'Inactive' },
        ],
      },
      { logicalName: 'primarycontactid', type: 'Lookup', displayName: 'Primary Contact', targets: ['contact'] },
      { logicalName: 'ownerid', type: 'Owner', displayName: 'Owner', targets: ['systemuser', 'team'] },
      {
        logicalName: 'createdon',
        type: 'DateTime',
        displayName: 'Created On',
        validForCreate: false,
        validForUpdate: false,
      },
    ],
  });
  dataverse.seedTable({
    logicalName: 'contact',
    displayName: 'Contact',
    primaryNameAttribute: 'fullname',
    columns: [
      { logicalName: 'fullname', type: 'String', displayName: 'Full Name' },
      // A customer lookup binds through one navigation property per target table (parentcustomerid_account, …).
      {
        logicalName: 'parentcustomerid',
        type: 'Customer',
        displayName: 'Company Name',
        targets: ['account', 'contact'],
      },
      // A custom lookup: its navigation property is its schema name, not its logical name.
      {
        logicalName: 'cr6d1_sponsorid',
        type: 'Lookup',
        displayName: 'Sponsor',
        targets: ['account'],
        navigation: { account: 'cr6d1_SponsorId' },
      },
    ],
  });
}

/**
 * The Dataverse error a call ends with (failing the test if it succeeds or throws something else); `seen` collects what
 * the error says, for checking that no secret is in it.
 */
export async function failure(
  promise: Promise<unknown>,
  seen?: string[],
): Promise<DataverseRequestError | DataverseUnavailableError> {
  try {
    await promise;
  } catch (error) {
    seen?.push(String(error), JSON.stringify(error), (error as Error).message);
    if (error instanceof DataverseRequestError || error instanceof DataverseUnavailableError) return error;
    throw error;
  }
  throw new Error('expected a Dataverse error');
}

export { DataverseDouble };
