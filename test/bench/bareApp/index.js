// The smallest Azure Functions v4 app: what any app on @azure/functions loads at start-up. The benchmark's cold-start
// and package-size figures are judged against it. Node resolves @azure/functions from the repository's node_modules.
import { app } from '@azure/functions';

app.http('hello', {
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: async () => ({ body: 'hello' }),
});
