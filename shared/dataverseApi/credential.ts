/**
 * The credential for the Dataverse Web API, chosen from the settings (`DataverseAuth`), all through `@azure/identity`
 * with the scope `<DATAVERSE_URL>/.default`:
 * - certificate: `ClientCertificateCredential`. It reads PEM only, so a PFX is converted to PEM in memory (node-forge,
 *   loaded only then); an encrypted PEM key is opened with `DATAVERSE_CERTIFICATE_PASSWORD`;
 * - client secret: `ClientSecretCredential`;
 * - identity: `ManagedIdentityCredential` in Azure; locally (Development) `DefaultAzureCredential`, which tries the
 *   developer's own sign-in (Azure CLI, Azure Developer CLI, PowerShell, VS Code) after the environment and identity.
 * Every failure becomes a `DataverseError` naming the setting to fix; no secret, password or key text is ever in it.
 */
import { readFile } from 'node:fs/promises';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import type { DataverseAuth } from '../config.js';
import { DataverseRequestError, DataverseUnavailableError } from './errors.js';

/** Options passed to the `@azure/identity` credential (tests point it at the local Entra double). */
export interface CredentialOptions {
  authorityHost?: string;
  disableInstanceDiscovery?: boolean;
  // biome-ignore lint/suspicious/noExplicitAny: the identity package's HttpClient type, kept opaque here
  httpClient?: any;
}

/**
 * Builds the credential for `auth`, or undefined for `none` (local mode: no Authorization header at all).
 *
 * @example
 * const credential = await createCredential(config.dataverse.auth);
 */
export async function createCredential(
  auth: DataverseAuth,
  options: CredentialOptions = {},
): Promise<TokenCredential | undefined> {
  if (auth.kind === 'none') return undefined;
  const identity = await import('@azure/identity');
  const secrets: string[] = [];
  let inner: TokenCredential;
  let setting: string;
  if (auth.kind === 'certificate') {
    setting = 'DATAVERSE_CERTIFICATE_PATH';
    if (auth.certificatePassword) secrets.push(auth.certificatePassword);
    const certificate = await readCertificate(auth.certificatePath, auth.certificatePassword);
    inner = new identity.ClientCertificateCredential(auth.tenantId, auth.clientId, { certificate }, options);
  } else if (auth.kind === 'secret') {
    setting = 'DATAVERSE_CLIENT_SECRET';
    secrets.push(auth.clientSecret);
    inner = new identity.ClientSecretCredential(auth.tenantId, auth.clientId, auth.clientSecret, options);
  } else if (auth.localMode) {
    setting = 'your Azure sign-in (az login) or DATAVERSE_CLIENT_ID';
    inner = new identity.DefaultAzureCredential({
      ...options,
      ...(auth.clientId ? { managedIdentityClientId: auth.clientId } : {}),
    });
  } else {
    setting = auth.clientId
      ? 'DATAVERSE_CLIENT_ID (the user-assigned identity)'
      : "the Function App's managed identity";
    inner = auth.clientId
      ? new identity.ManagedIdentityCredential({ ...options, clientId: auth.clientId })
      : new identity.ManagedIdentityCredential(options);
  }
  return {
    async getToken(scopes: string | string[], getTokenOptions?: GetTokenOptions): Promise<AccessToken | null> {
      try {
        return await inner.getToken(scopes, getTokenOptions);
      } catch (error) {
        throw describeCredentialError(error, setting, secrets);
      }
    },
  };
}

/**
 * The certificate file as the PEM `ClientCertificateCredential` takes: a PEM file as is (its key decrypted with the
 * password when it has one), a PFX/PKCS#12 converted. Errors name the setting, never the password.
 */
export async function readCertificate(path: string, password?: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new DataverseRequestError(
      'DataverseCertificateUnreadable',
      `DATAVERSE_CERTIFICATE_PATH: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
      { operation: 'certificate' },
    );
  }
  const text = bytes.toString('utf8');
  if (text.includes('-----BEGIN CERTIFICATE-----')) {
    if (!/-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.test(text)) {
      throw certificateProblem(path, 'holds a certificate but no private key (export it with its key)');
    }
    if (!/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) return text;
    if (!password) throw certificateProblem(path, 'has an encrypted key: set DATAVERSE_CERTIFICATE_PASSWORD');
    const { createPrivateKey } = await import('node:crypto');
    const keyBlock =
      /-----BEGIN (?:ENCRYPTED |RSA )?PRIVATE KEY-----[\s\S]+?-----END (?:ENCRYPTED |RSA )?PRIVATE KEY-----/.exec(
        text,
      )?.[0];
    try {
      const key = createPrivateKey({ key: keyBlock ?? text, format: 'pem', passphrase: password });
      const certificates = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
      return `${key.export({ format: 'pem', type: 'pkcs8' }).toString()}${certificates.join('\n')}\n`;
    } catch {
      throw certificateProblem(path, 'has a key DATAVERSE_CERTIFICATE_PASSWORD does not open');
    }
  }
  return pfxToPem(bytes, path, password);
}

async function pfxToPem(bytes: Buffer, path: string, password: string | undefined): Promise<string> {
  const forge = (await import('node-forge')).default;
  let p12: ReturnType<typeof forge.pkcs12.pkcs12FromAsn1>;
  try {
    const asn1 = forge.asn1.fromDer(forge.util.createBuffer(bytes.toString('binary')));
    p12 = forge.pkcs12.pkcs12FromAsn1(asn1, password ?? '');
  } catch (error) {
    const wrongPassword = /mac|password|invalid/i.test((error as Error).message);
    throw certificateProblem(
      path,
      wrongPassword && bytes[0] === 0x30
        ? password
          ? 'is a PFX that DATAVERSE_CERTIFICATE_PASSWORD does not open'
          : 'is a PFX with a password: set DATAVERSE_CERTIFICATE_PASSWORD'
        : 'is neither PEM (certificate and private key) nor PFX',
    );
  }
  const oids = forge.pki.oids as Record<string, string>;
  const bags = (type: string) => p12.getBags({ bagType: type })[type] ?? [];
  const keyBags = [...bags(oids.pkcs8ShroudedKeyBag as string), ...bags(oids.keyBag as string)];
  const key = keyBags.find((bag) => bag.key)?.key as import('node-forge').pki.rsa.PrivateKey | undefined;
  if (!key) throw certificateProblem(path, 'is a PFX without a private key (export it with its key)');
  const certificates = bags(oids.certBag as string).flatMap((bag) =>
    bag.cert ? [forge.pki.certificateToPem(bag.cert)] : [],
  );
  if (certificates.length === 0) throw certificateProblem(path, 'is a PFX without a certificate');
  // The certificate whose public key matches the private key goes first: it is the one Entra knows.
  const publicOf = (pem: string) => forge.pki.publicKeyToPem(forge.pki.certificateFromPem(pem).publicKey);
  const ownPublic = forge.pki.publicKeyToPem(forge.pki.setRsaPublicKey(key.n, key.e));
  certificates.sort((a, b) => Number(publicOf(b) === ownPublic) - Number(publicOf(a) === ownPublic));
  return `${forge.pki.privateKeyInfoToPem(forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(key)))}${certificates.join('')}`;
}

function certificateProblem(path: string, problem: string): DataverseRequestError {
  return new DataverseRequestError(
    'DataverseCertificateUnreadable',
    `DATAVERSE_CERTIFICATE_PATH: ${path} ${problem}.`,
    {
      operation: 'certificate',
    },
  );
}

/**
 * Turns a credential failure into a Dataverse error naming what to fix. Entra's own reason (an AADSTS code and text)
 * is kept, with any known secret value removed; the error is permanent when Entra refused the credential, transient
 * when it could not be reached.
 */
export function describeCredentialError(
  error: unknown,
  setting: string,
  secrets: string[] = [],
): DataverseRequestError | DataverseUnavailableError {
  if (error instanceof DataverseRequestError || error instanceof DataverseUnavailableError) return error;
  const raw = error instanceof Error ? error.message : String(error);
  let message = raw;
  for (const secret of secrets) if (secret.length > 0) message = message.split(secret).join('[redacted]');
  const aadsts = /AADSTS\d+:[^\r\n]*?(?=(\r|\n|Trace ID|$))/.exec(message)?.[0]?.trim();
  const reason = (aadsts ?? message.split('\n')[0] ?? '').slice(0, 400);
  const name = (error as { name?: string }).name ?? 'Error';
  const status = (error as { statusCode?: number }).statusCode;
  const refused =
    aadsts !== undefined ||
    (status !== undefined && status >= 400 && status < 500) ||
    name === 'CredentialUnavailableError';
  const text = `No token for Dataverse from ${setting}: ${reason}`;
  return refused
    ? new DataverseRequestError('DataverseCredentialRejected', text, {
        operation: 'token',
        ...(status ? { status } : {}),
      })
    : new DataverseUnavailableError('DataverseCredentialUnavailable', text, {
        operation: 'token',
        ...(status ? { status } : {}),
      });
}
