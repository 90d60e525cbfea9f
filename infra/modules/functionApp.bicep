// The function app on the Flex Consumption plan (Linux, Node.js), with a system-assigned identity that every Azure
// connection uses, and a user-assigned identity for Dataverse only (DATAVERSE_CLIENT_ID). The app settings below are
// the whole contract between this template and shared/config.ts; test/infra/template.test.ts checks them, compiled,
// against the code.
param location string
@description('Tags for every resource: name → value.')
param tags { *: string }
param name string
param planName string
@description('The user-assigned identity the app calls Dataverse with.')
param dataverseIdentityName string
@description('DATAVERSE_URL; empty when the app does not call Dataverse.')
param dataverseUrl string
@allowed(['20', '22'])
param nodeVersion string
param maximumInstanceCount int
@allowed([512, 2048, 4096])
param instanceMemoryMB int
param storageAccountName string
@description('Blob container Flex Consumption deploys the app package to.')
param deploymentContainerName string
param applicationInsightsName string
@description('<namespace>.servicebus.windows.net')
param serviceBusFullyQualifiedNamespace string
param dataverseQueueName string
param dataverseTopicName string
param dataverseSubscriptionName string
param eventGridTopicEndpoint string
param storagePrefix string
param leaseSeconds int
param unhealthyAfter int
param deliveryTimeoutSeconds int
param reconcileTables string
param reconcileSchedule string
@description('BRIDGE_AUTH_TENANT_ID; empty: bearer tokens are refused.')
param authTenantId string
@description('BRIDGE_AUTH_AUDIENCE; empty unless authTenantId is set.')
param authAudience string
@description('BRIDGE_AUTH_ISSUER; empty: the tenant\'s own issuers.')
param authIssuer string
@description('BRIDGE_AUTH_METADATA_URL; empty: the tenant\'s own OpenID metadata.')
param authMetadataUrl string
@description('BRIDGE_DATAVERSE_APP_OPERATIONS.')
param dataverseAppOperations bool
param verifySync bool
param verifyDelaySeconds int
param verifyWindowSeconds int

resource storage 'Microsoft.Storage/storageAccounts@2026-09-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// The app's identity in Dataverse, where an admin makes it an application user (by its client id, which ARM exposes
// for a user-assigned identity only). Kept apart from the system-assigned identity: the principal Dataverse trusts
// holds no Azure role, and it outlives the app, so recreating the app keeps the Dataverse application user.
resource dataverseIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: dataverseIdentityName
  location: location
  tags: tags
}

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true // Linux
  }
}

resource site 'Microsoft.Web/sites@2025-03-01' = {
  name: name
  location: location
  // azd finds the app to deploy the `api` service (azure.yaml) to by this tag.
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned, UserAssigned'
    userAssignedIdentities: { '${dataverseIdentity.id}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: { type: 'SystemAssignedIdentity' }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: nodeVersion
      }
    }
  }
}

// Flex Consumption takes the runtime from functionAppConfig, so FUNCTIONS_WORKER_RUNTIME and
// FUNCTIONS_EXTENSION_VERSION are not set. AZURE_FUNCTIONS_ENVIRONMENT is left to Azure (Production): Development
// would let flows register http callbacks to private addresses.
var appSettings = {
  // The Functions host and the app's tables and blobs (shared/store/connect.ts derives the table and blob URIs).
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  // verifyHeld's Queue trigger (connection AzureWebJobsStorage) and the app's checks on the same queue service.
  AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
  BRIDGE_STORAGE_PREFIX: storagePrefix
  // Telemetry with the identity (Application Insights local auth is off).
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
  // The Service Bus triggers' connection (`connection: 'ServiceBusConnection'`), identity-based.
  ServiceBusConnection__fullyQualifiedNamespace: serviceBusFullyQualifiedNamespace
  DATAVERSE_QUEUE_NAME: dataverseQueueName
  DATAVERSE_TOPIC_NAME: dataverseTopicName
  DATAVERSE_SUBSCRIPTION_NAME: dataverseSubscriptionName
  // No EVENTGRID_TOPIC_KEY: without it the publisher uses DefaultAzureCredential (the managed identity).
  EVENTGRID_TOPIC_ENDPOINT: eventGridTopicEndpoint
  BRIDGE_LEASE_SECONDS: string(leaseSeconds)
  BRIDGE_UNHEALTHY_AFTER: string(unhealthyAfter)
  BRIDGE_DELIVERY_TIMEOUT_SECONDS: string(deliveryTimeoutSeconds)
  // reconcileChanges: the host resolves its timer's %BRIDGE_RECONCILE_SCHEDULE%, so the setting is always set.
  BRIDGE_RECONCILE_TABLES: reconcileTables
  BRIDGE_RECONCILE_SCHEDULE: reconcileSchedule
  // The hold of synchronous contexts (verifyHeld); on only with DATAVERSE_URL.
  BRIDGE_VERIFY_SYNC: verifySync ? 'true' : 'false'
  BRIDGE_VERIFY_DELAY_SECONDS: string(verifyDelaySeconds)
  BRIDGE_VERIFY_WINDOW_SECONDS: string(verifyWindowSeconds)
  // Dataverse through the user-assigned identity: with DATAVERSE_CLIENT_ID and no certificate or secret, the app takes
  // a managed-identity token for that client id. Both empty while no environment is configured.
  DATAVERSE_URL: dataverseUrl
  DATAVERSE_CLIENT_ID: empty(dataverseUrl) ? '' : dataverseIdentity.properties.clientId
  // The connector's Microsoft Entra ID connection: the Dataverse operations run as the user whose token this tenant and
  // audience accept. Empty (the default) turns bearer tokens off; the app treats an empty setting as unset.
  BRIDGE_AUTH_TENANT_ID: authTenantId
  BRIDGE_AUTH_AUDIENCE: authAudience
  BRIDGE_AUTH_ISSUER: authIssuer
  BRIDGE_AUTH_METADATA_URL: authMetadataUrl
  // false unless deliberately turned on: a function key alone must not act as the application user.
  BRIDGE_DATAVERSE_APP_OPERATIONS: dataverseAppOperations ? 'true' : 'false'
}

resource settings 'Microsoft.Web/sites/config@2025-03-01' = {
  parent: site
  name: 'appsettings'
  properties: appSettings
}

output name string = site.name
output url string = 'https://${site.properties.defaultHostName}'
output principalId string = site.identity.principalId
output dataverseClientId string = dataverseIdentity.properties.clientId
