import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { httpTrigger } from '../shared/connector/operations.js';

/** The connector definition (Swagger 2.0) for "Import from URL", pointing at the host that served it. */
export async function openApiDefinition(request: HttpRequest): Promise<HttpResponseInit> {
  const { openApiDefinition: definitionResponse } = await import('../shared/connector/openApiDefinition.js');
  return definitionResponse(new URL(request.url), request.headers.get('x-forwarded-host') ?? undefined);
}

app.http('openApiDefinition', { ...httpTrigger('openApiDefinition'), handler: openApiDefinition });
