/**
 * A local Microsoft Entra ID token endpoint for tests: just enough of the v2.0 endpoint for the client credentials
 * grant, so that `@azure/identity`'s `ClientCertificateCredential` and `ClientSecretCredential` (through MSAL) really
 * authenticate against it. It serves HTTPS with a throwaway certificate (MSAL and `@azure/identity` refuse an http
 * authority); a test trusts that certificate through the credential's `httpClient` only ({@link EntraDouble.httpClient}).
 *
 * It follows these pages (Microsoft Learn, Microsoft identity platform):
 * - "Microsoft identity platform and the OAuth 2.0 client credentials flow"
 *   (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow): `POST
 *   /{tenant}/oauth2/v2.0/token` with `grant_type=client_credentials`, `client_id`, `scope` (`<resource>/.default`) and
 *   either `client_secret` or `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` +
 *   `client_assertion`; the answer `{ token_type: "Bearer", expires_in, ext_expires_in, access_token }`; errors
 *   `{ error, error_description, error_codes, timestamp, trace_id, correlation_id }` with AADSTS codes.
 * - "Microsoft identity platform application authentication certificate credentials"
 *   (https://learn.microsoft.com/entra/identity-platform/certificate-credentials): the assertion is a JWT signed with the
 *   certificate's private key (`RS256`, or `PS256` with `x5t#S256`), header `x5t` = base64url SHA-1 thumbprint or
 *   `x5t#S256` = base64url SHA-256 thumbprint; claims `aud` = the token endpoint, `iss` = `sub` = the client id,
 *   `exp`, `nbf`, `jti`.
 * - "OpenID Connect on the Microsoft identity platform"
 *   (https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc): `/{tenant}/v2.0/.well-known/openid-configuration`,
 *   which MSAL reads to find the token endpoint when instance discovery is disabled.
 * - "Access token claims reference" (https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference):
 *   the access token's `aud`, `iss`, `tid`, `oid`, `appid`, `exp`.
 *
 * - "How to use managed identities for App Service and Azure Functions", REST endpoint reference
 *   (https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference): the identity
 *   endpoint a Function App gets in `IDENTITY_ENDPOINT`, called as `GET ?resource=<resource>&api-version=2019-08-01`
 *   (plus `client_id` for a user-assigned identity) with the `X-IDENTITY-HEADER` secret from `IDENTITY_HEADER`;
 *   the answer `{ access_token, expires_on, resource, token_type, client_id }`. Served at {@link EntraDouble.identityEndpoint}.
 *
 * - "Access tokens in the Microsoft identity platform", validating tokens
 *   (https://learn.microsoft.com/entra/identity-platform/access-tokens#validate-tokens): the signing keys are published
 *   as a JWK set at the metadata's `jwks_uri` (`/{tenant}/discovery/v2.0/keys`, each key with `kty`, `use: "sig"`,
 *   `kid`, `n`, `e`), and user tokens carry `aud` (the app ID URI or client id), `iss`
 *   (`https://login.microsoftonline.com/{tenant}/v2.0`), `tid`, `oid`, `exp`, `nbf`, `iat`. Served over HTTPS with the
 *   rest, and over plain HTTP by {@link EntraDouble.startPublicMetadata} for a bridge process that cannot trust the
 *   double's certificate (the bridge accepts an http metadata URL only in Development).
 *
 * The access tokens it issues are RS256 JWTs signed by the double's own key; {@link EntraDouble.verifyAccessToken} lets
 * the Dataverse double check them the way a resource server would (signature, audience, expiry).
 */
import {
  constants,
  createHash,
  createPublicKey,
  sign as cryptoSign,
  generateKeyPairSync,
  randomUUID,
  sign,
  verify,
} from 'node:crypto';
import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { Agent, createServer, type Server } from 'node:https';
import type { HttpClient, PipelineRequest } from '@azure/core-rest-pipeline';
import { createDefaultHttpClient } from '@azure/core-rest-pipeline';
import { makeCertificate, type TestCertificate } from './certificates.js';
import { close, listen, readBody } from './http.js';

/** An app registration the double knows: its client id, and the credentials it accepts. */
export interface AppRegistration {
  clientId: string;
  /** The service principal's object id (the `oid` of its tokens). */
  objectId?: string;
  /** PEM certificate (public part) whose key may sign client assertions. */
  certificatePem?: string;
  clientSecret?: string;
}

/** Claims of an access token the double issued, as a resource server reads them. */
export interface AccessTokenClaims {
  aud: string;
  iss: string;
  tid: string;
  oid: string;
  appid: string;
  exp: number;
  iat: number;
}

/** Counters a test can assert on. */
export interface EntraCounters {
  discovery: number;
  tokenRequests: number;
  tokensIssued: number;
  tokenFailures: number;
  /** Requests for the signing keys (the JWK set) over the public metadata server. */
  keyRequests: number;
}

interface Registered extends AppRegistration {
  objectId: string;
  sha1?: string;
  sha256?: string;
  publicKey?: ReturnType<typeof createPublicKey>;
}

/** Allowed clock skew for `exp`/`nbf`, as Entra allows a few minutes. */
const SKEW_SECONDS = 300;

/**
 * The double. `start()` listens on a free port of 127.0.0.1; `authorityHost` is what the credential takes.
 *
 * @example
 * const entra = new EntraDouble({ tenantId });
 * await entra.start();
 * entra.register({ clientId, certificatePem: cert.certificatePem });
 * new ClientCertificateCredential(tenantId, clientId, { certificate: cert.pem() }, entra.credentialOptions());
 */
export class EntraDouble {
  readonly tenantId: string;
  readonly counters: EntraCounters = {
    discovery: 0,
    tokenRequests: 0,
    tokensIssued: 0,
    tokenFailures: 0,
    keyRequests: 0,
  };
  /** The last error answer's `error_description`, for assertions. */
  lastError: string | undefined;
  /** Lifetime of issued tokens. */
  tokenLifetimeSeconds = 3599;
  private readonly apps = new Map<string, Registered>();
  private readonly tls: TestCertificate;
  private readonly signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
  private readonly signingKid = randomUUID();
  private server: Server | undefined;
  private metadataServer: HttpServer | undefined;
  private port = 0;
  /** The `X-IDENTITY-HEADER` value the identity endpoint requires (`IDENTITY_HEADER`). */
  readonly identityHeader = randomUUID();
  /** Managed identities by client id; the first registered is the system-assigned one. */
  private readonly identities = new Map<string, string>();
  /** Every token request's form fields (secrets and assertions included: tests check what was sent). */
  readonly tokenRequests: Array<Record<string, string>> = [];

  constructor(options: { tenantId?: string } = {}) {
    this.tenantId = options.tenantId ?? randomUUID();
    this.tls = makeCertificate('127.0.0.1', ['127.0.0.1', 'localhost']);
  }

  /** `https://127.0.0.1:<port>`: the credential's `authorityHost`. */
  get authorityHost(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** The token endpoint, which is also the audience a client assertion must name. */
  get tokenEndpoint(): string {
    return `${this.authorityHost}/${this.tenantId}/oauth2/v2.0/token`;
  }

  /** The issuer of the access tokens. */
  get issuer(): string {
    return `${this.authorityHost}/${this.tenantId}/v2.0`;
  }

  /** `IDENTITY_ENDPOINT`: the App Service / Functions managed identity endpoint. */
  get identityEndpoint(): string {
    return `${this.authorityHost}/msi/token`;
  }

  /** Adds a managed identity (the first one added is the app's system-assigned identity); returns its object id. */
  registerManagedIdentity(clientId: string): string {
    const objectId = randomUUID();
    this.identities.set(clientId, objectId);
    return objectId;
  }

  /** Trusts the double's TLS certificate for the requests of one credential only (no process-wide setting). */
  httpClient(): HttpClient {
    const agent = new Agent({ ca: this.tls.certificatePem, keepAlive: false });
    const inner = createDefaultHttpClient();
    return {
      sendRequest(request: PipelineRequest) {
        request.agent = agent;
        return inner.sendRequest(request);
      },
    };
  }

  /** The options a credential needs to talk to this double. */
  credentialOptions(): { authorityHost: string; disableInstanceDiscovery: true; httpClient: HttpClient } {
    return { authorityHost: this.authorityHost, disableInstanceDiscovery: true, httpClient: this.httpClient() };
  }

  /** Adds (or replaces) an app registration. */
  register(app: AppRegistration): void {
    const entry: Registered = { ...app, objectId: app.objectId ?? randomUUID() };
    if (app.certificatePem) {
      const der = Buffer.from(app.certificatePem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, ''), 'base64');
      entry.sha1 = createHash('sha1').update(der).digest('base64url');
      entry.sha256 = createHash('sha256').update(der).digest('base64url');
      entry.publicKey = createPublicKey(app.certificatePem);
    }
    this.apps.set(app.clientId, entry);
  }

  async start(): Promise<void> {
    this.server = createServer({ cert: this.tls.certificatePem, key: this.tls.privateKeyPem }, (req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'server_error', error_description: String(error) }));
      });
    });
    this.port = await listen(this.server);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await close(server);
    const metadata = this.metadataServer;
    this.metadataServer = undefined;
    await close(metadata);
  }

  /**
   * Checks an access token as a resource server would: the double's signature, the audience (the resource URL,
   * with or without a trailing slash) and expiry. Returns its claims, or a reason it is refused.
   */
  verifyAccessToken(token: string, audience: string): { claims: AccessTokenClaims } | { error: string } {
    const parts = token.split('.');
    if (parts.length !== 3) return { error: 'not a JWT' };
    const [header, payload, signature] = parts as [string, string, string];
    const valid = verify(
      'sha256',
      Buffer.from(`${header}.${payload}`),
      this.signingKey.publicKey,
      Buffer.from(signature, 'base64url'),
    );
    if (!valid) return { error: 'signature' };
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as AccessTokenClaims;
    const trim = (value: string) => value.replace(/\/+$/, '');
    if (trim(claims.aud) !== trim(audience)) return { error: `audience ${claims.aud}` };
    if (claims.exp < Date.now() / 1000) return { error: 'expired' };
    return { claims };
  }

  /** The signing keys, as the tenant's `jwks_uri` publishes them. */
  keys(): { keys: Array<Record<string, unknown>> } {
    const jwk = this.signingKey.publicKey.export({ format: 'jwk' });
    return { keys: [{ kty: 'RSA', use: 'sig', kid: this.signingKid, n: jwk.n, e: jwk.e }] };
  }

  /**
   * Serves the tenant's OpenID metadata and signing keys over plain HTTP on a free port of 127.0.0.1; resolves with
   * the metadata URL (`BRIDGE_AUTH_METADATA_URL`). Stopped by {@link EntraDouble.stop}.
   */
  async startPublicMetadata(): Promise<string> {
    this.metadataServer = createHttpServer((req, res) => {
      const base = `http://127.0.0.1:${metadataPort}/${this.tenantId}`;
      const path = new URL(req.url ?? '/', base).pathname;
      if (path === `/${this.tenantId}/v2.0/.well-known/openid-configuration`) {
        this.counters.discovery++;
        return json(res, 200, {
          issuer: USER_TOKEN_ISSUER(this.tenantId),
          jwks_uri: `${base}/discovery/v2.0/keys`,
          id_token_signing_alg_values_supported: ['RS256'],
        });
      }
      if (path === `/${this.tenantId}/discovery/v2.0/keys`) {
        this.counters.keyRequests++;
        return json(res, 200, this.keys());
      }
      json(res, 404, { error: 'not_found' });
    });
    const metadataPort = await listen(this.metadataServer);
    return `http://127.0.0.1:${metadataPort}/${this.tenantId}/v2.0/.well-known/openid-configuration`;
  }

  /**
   * A user's access token for an API (the connector's OAuth connection sends one), signed RS256 by the tenant's
   * published key unless `sign` says otherwise: `'none'` (unsigned, `alg: none`), `'other-key'` (a key the tenant does
   * not publish). `claims` override the defaults (`iss` of the tenant, `tid`, a new `oid`, valid for an hour).
   */
  userToken(
    audience: string,
    claims: Record<string, unknown> = {},
    sign: 'tenant' | 'none' | 'other-key' = 'tenant',
  ): string {
    const now = Math.floor(Date.now() / 1000);
    const body = {
      aud: audience,
      iss: USER_TOKEN_ISSUER(this.tenantId),
      iat: now,
      nbf: now,
      exp: now + 3600,
      tid: this.tenantId,
      oid: randomUUID(),
      ver: '2.0',
      ...claims,
    };
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    if (sign === 'none') return `${encode({ typ: 'JWT', alg: 'none' })}.${encode(body)}.`;
    const key =
      sign === 'tenant' ? this.signingKey.privateKey : generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const signed = `${encode({ typ: 'JWT', alg: 'RS256', kid: this.signingKid })}.${encode(body)}`;
    return `${signed}.${cryptoSign('sha256', Buffer.from(signed), key).toString('base64url')}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.authorityHost);
    const tenantPath = `/${this.tenantId}`;
    if (req.method === 'GET' && url.pathname === `${tenantPath}/v2.0/.well-known/openid-configuration`) {
      this.counters.discovery++;
      return json(res, 200, {
        issuer: this.issuer,
        authorization_endpoint: `${this.authorityHost}/${this.tenantId}/oauth2/v2.0/authorize`,
        token_endpoint: this.tokenEndpoint,
        jwks_uri: `${this.authorityHost}/${this.tenantId}/discovery/v2.0/keys`,
        end_session_endpoint: `${this.authorityHost}/${this.tenantId}/oauth2/v2.0/logout`,
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        tenant_region_scope: 'EU',
      });
    }
    if (req.method === 'GET' && url.pathname === `${tenantPath}/discovery/v2.0/keys`) {
      return json(res, 200, this.keys());
    }
    if (req.method === 'GET' && url.pathname === '/msi/token') {
      this.counters.tokenRequests++;
      return this.managedIdentityToken(url.searchParams, req.headers['x-identity-header'], res);
    }
    if (req.method === 'POST' && url.pathname === `${tenantPath}/oauth2/v2.0/token`) {
      this.counters.tokenRequests++;
      const form = Object.fromEntries(new URLSearchParams(await readBody(req)));
      this.tokenRequests.push(form);
      return this.token(form, res);
    }
    return json(res, 404, { error: 'not_found', error_description: `AADSTS90002: no such endpoint ${url.pathname}` });
  }

  private token(form: Record<string, string>, res: ServerResponse): void {
    const fail = (status: number, error: string, code: number, description: string) => {
      this.counters.tokenFailures++;
      this.lastError = `AADSTS${code}: ${description}`;
      json(res, status, {
        error,
        error_description: this.lastError,
        error_codes: [code],
        timestamp: new Date().toISOString(),
        trace_id: randomUUID(),
        correlation_id: randomUUID(),
      });
    };
    if (form.grant_type !== 'client_credentials') {
      fail(400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${form.grant_type}'.`);
      return;
    }
    const app = this.apps.get(form.client_id ?? '');
    if (!app) {
      fail(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${form.client_id}' was not found in the directory '${this.tenantId}'.`,
      );
      return;
    }
    const scope = form.scope ?? '';
    const resource = /^(.+)\/\.default$/.exec(scope.split(' ').find((s) => s.endsWith('/.default')) ?? '')?.[1];
    if (!resource) {
      fail(
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
      return;
    }
    if (form.client_assertion !== undefined) {
      if (form.client_assertion_type !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
        fail(400, 'invalid_request', 900023, 'Specified client_assertion_type is not supported.');
        return;
      }
      const problem = this.checkAssertion(app, form.client_assertion);
      if (problem) {
        fail(401, 'invalid_client', problem.code, problem.description);
        return;
      }
    } else if (form.client_secret !== undefined) {
      if (!app.clientSecret || form.client_secret !== app.clientSecret) {
        fail(
          401,
          'invalid_client',
          7000215,
          `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.clientId}'.`,
        );
        return;
      }
    } else {
      fail(
        401,
        'invalid_client',
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      );
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    const claims: AccessTokenClaims = {
      aud: resource,
      iss: `https://sts.windows.net/${this.tenantId}/`,
      tid: this.tenantId,
      oid: app.objectId,
      appid: app.clientId,
      iat: now,
      exp: now + this.tokenLifetimeSeconds,
    };
    this.counters.tokensIssued++;
    json(res, 200, {
      token_type: 'Bearer',
      expires_in: this.tokenLifetimeSeconds,
      ext_expires_in: this.tokenLifetimeSeconds,
      access_token: this.signToken(claims),
    });
  }

  private managedIdentityToken(
    params: URLSearchParams,
    header: string | string[] | undefined,
    res: ServerResponse,
  ): void {
    const resource = params.get('resource');
    const requested = params.get('client_id') ?? params.get('mi_res_id') ?? params.get('principal_id');
    const entry = requested
      ? [...this.identities].find(([clientId]) => clientId === requested)
      : [...this.identities][0];
    const problem: [number, string] | undefined =
      header !== this.identityHeader
        ? [401, 'X-IDENTITY-HEADER is missing or wrong.']
        : params.get('api-version') !== '2019-08-01'
          ? [400, `Unsupported api-version ${params.get('api-version')}.`]
          : !resource
            ? [400, 'resource is required.']
            : !entry
              ? [400, `No managed identity ${requested ?? '(system-assigned)'} is assigned to this app.`]
              : undefined;
    if (problem || !entry || !resource) {
      const [status, message] = problem ?? [400, 'bad request'];
      this.counters.tokenFailures++;
      this.lastError = message;
      json(res, status, { statusCode: status, message, correlationId: randomUUID() });
      return;
    }
    const [clientId, objectId] = entry;
    const now = Math.floor(Date.now() / 1000);
    const claims: AccessTokenClaims = {
      aud: resource.replace(/\/\.default$/, ''),
      iss: `https://sts.windows.net/${this.tenantId}/`,
      tid: this.tenantId,
      oid: objectId,
      appid: clientId,
      iat: now,
      exp: now + this.tokenLifetimeSeconds,
    };
    this.counters.tokensIssued++;
    json(res, 200, {
      access_token: this.signToken(claims),
      expires_on: String(claims.exp),
      resource,
      token_type: 'Bearer',
      client_id: clientId,
    });
  }

  /** The checks Entra makes on a certificate credential, each failing with the AADSTS code Entra uses for it. */
  private checkAssertion(app: Registered, assertion: string): { code: number; description: string } | undefined {
    const parts = assertion.split('.');
    if (parts.length !== 3) return { code: 50027, description: 'JWT token is invalid or malformed.' };
    const [encodedHeader, encodedPayload, signature] = parts as [string, string, string];
    let header: Record<string, unknown>;
    let payload: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(encodedHeader, 'base64url').toString('utf8'));
      payload = JSON.parse(Buffer.from(encodedPayload, 'base64url').toString('utf8'));
    } catch {
      return { code: 50027, description: 'JWT token is invalid or malformed.' };
    }
    if (!app.publicKey) {
      return {
        code: 700027,
        description: `Client assertion contains an invalid signature: no certificate is registered for app '${app.clientId}'.`,
      };
    }
    const x5t = header.x5t;
    const x5tS256 = header['x5t#S256'];
    const thumbprintMatches =
      (x5tS256 !== undefined && x5tS256 === app.sha256) || (x5t !== undefined && x5t === app.sha1);
    if (!thumbprintMatches) {
      return {
        code: 700027,
        description: `Client assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used by client: '${String(x5tS256 ?? x5t)}']`,
      };
    }
    const data = Buffer.from(`${encodedHeader}.${encodedPayload}`);
    const sig = Buffer.from(signature, 'base64url');
    const ok =
      header.alg === 'RS256'
        ? verify('sha256', data, app.publicKey, sig)
        : header.alg === 'PS256'
          ? verify(
              'sha256',
              data,
              { key: app.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
              sig,
            )
          : false;
    if (!ok) {
      return {
        code: 700027,
        description:
          'Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value.]',
      };
    }
    if (payload.aud !== this.tokenEndpoint) {
      return {
        code: 700212,
        description: `No matching federated identity record found for presented assertion audience '${String(payload.aud)}'.`,
      };
    }
    if (payload.iss !== app.clientId || payload.sub !== app.clientId) {
      return { code: 700023, description: 'Invalid JWT token. The issuer and subject must be the client id.' };
    }
    const now = Date.now() / 1000;
    if (typeof payload.exp !== 'number' || payload.exp < now - SKEW_SECONDS) {
      return { code: 700024, description: 'Client assertion is not within its valid time range.' };
    }
    if (typeof payload.nbf === 'number' && payload.nbf > now + SKEW_SECONDS) {
      return { code: 700024, description: 'Client assertion is not within its valid time range.' };
    }
    return undefined;
  }

  private signToken(claims: AccessTokenClaims): string {
    const header = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid: this.signingKid })).toString(
      'base64url',
    );
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const signature = sign('sha256', Buffer.from(`${header}.${payload}`), this.signingKey.privateKey).toString(
      'base64url',
    );
    return `${header}.${payload}.${signature}`;
  }
}

/** The `iss` of the v2.0 access tokens of a tenant, as Entra writes it. */
const USER_TOKEN_ISSUER = (tenantId: string) => `https://login.microsoftonline.com/${tenantId}/v2.0`;

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
