// Dataverse Bridge on Azure: a Flex Consumption function app that reads Dataverse's Service Bus queue (and topic
// subscription) through its managed identity, records jobs in Table storage and publishes CloudEvents to an Event Grid
// custom topic. No secret lives in the app's settings: every connection the app makes is identity-based.
//
// Deployed by `azd up` (azure.yaml). The Event Grid subscriptions to the app's functions are in
// eventSubscriptions.bicep, deployed after the code by infra/hooks/postdeploy.* (see docs/deploy.md for why).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; makes the resource names unique and tags every resource.')
param environmentName string

@minLength(1)
@description('Region for every resource. It must offer the Flex Consumption plan: az functionapp list-flexconsumption-locations.')
@metadata({ azd: { type: 'location' } })
param location string

@description('Object id of the user running azd (azd sets it). Used only when grantDeveloperAccess is true.')
param principalId string = ''

@description('Also let principalId read the storage account (dead-lettered events, job tables) with Microsoft Entra ID. Off by default: production needs no human access.')
param grantDeveloperAccess bool = false

@description('Node.js major version of the Flex Consumption runtime. 22 by default: Azure Functions follows the Node.js lifecycle, and Node.js 20 reached its end of life on 30 April 2026.')
@allowed(['20', '22'])
param nodeVersion string = '22'

@description('Upper bound on Flex Consumption instances; caps cost and the load on Table storage.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory per Flex Consumption instance, in MB.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Queue a Dataverse service endpoint (contract Queue) posts to.')
param dataverseQueueName string = 'dataverse'

@description('Topic a Dataverse service endpoint (contract Topic) posts to.')
param dataverseTopicName string = 'dataverse-events'

@description('Subscription of that topic the bridge reads.')
param dataverseSubscriptionName string = 'bridge'

@description('How long a received message stays locked. The trigger renews the lock while a batch runs (host.json maxAutoLockRenewalDuration, 10 minutes), so this only has to outlast one renewal interval; a short lock returns the messages of a crashed instance sooner.')
param serviceBusLockDuration string = 'PT1M'

@description('Deliveries before Service Bus dead-letters a message. Bad contexts are recorded and completed, not retried, so only transient failures (storage or Event Grid down) count: this is how many failed attempts an outage may cost a message before it waits in the dead-letter queue.')
@minValue(1)
@maxValue(2000)
param serviceBusMaxDeliveryCount int = 10

@description('Grant the app Azure Service Bus Data Owner on its queue and subscription (not the namespace) instead of Data Receiver. Receiving needs only Data Receiver; Owner adds the Manage right the scale controller uses to read queue length for target-based scaling.')
param serviceBusOwnerForScaling bool = false

@description('Allow access keys on the Event Grid topic. Off: the app publishes with its identity (EventGrid Data Sender), so no key exists to leak.')
param allowEventGridKeys bool = false

@description('Prefix of the app\'s tables (<prefix>jobs, …) and raw-body container (<prefix>-raw): BRIDGE_STORAGE_PREFIX.')
param storagePrefix string = 'bridge'

@description('DATAVERSE_URL: the Dataverse environment the app reads and writes, e.g. https://contoso.crm.dynamics.com (azd env set DATAVERSE_URL …). Empty: the app does not call Dataverse.')
param dataverseUrl string = ''

@description('BRIDGE_LEASE_SECONDS: how long a delivery owns a job it is publishing.')
@minValue(1)
@maxValue(3600)
param leaseSeconds int = 300

@description('BRIDGE_UNHEALTHY_AFTER: consecutive failed deliveries before a flow subscription is marked unhealthy.')
@minValue(1)
@maxValue(1000)
param unhealthyAfter int = 5

@description('BRIDGE_DELIVERY_TIMEOUT_SECONDS: how long one callback to a flow may take.')
@minValue(1)
@maxValue(230)
param deliveryTimeoutSeconds int = 15

@description('BRIDGE_RECONCILE_TABLES: logical names of the Dataverse tables reconciliation follows with change tracking, comma-separated (e.g. account,contact). Empty: reconciliation is off. Needs DATAVERSE_URL.')
param reconcileTables string = ''

@description('BRIDGE_RECONCILE_SCHEDULE: when reconcileChanges runs, an NCRONTAB expression of six fields, seconds first.')
param reconcileSchedule string = '0 */15 * * * *'

@description('BRIDGE_AUTH_TENANT_ID: the Microsoft Entra tenant (a GUID) whose access tokens the connector\'s OAuth connection sends (azd env set BRIDGE_AUTH_TENANT_ID …). Empty: bearer tokens are refused, and the Dataverse operations answer 403 to a function key alone.')
param authTenantId string = ''

@description('BRIDGE_AUTH_AUDIENCE: the accepted token audiences, comma-separated: the connector API app\'s application ID URI (api://<client id>) and/or its client id. Needed with authTenantId.')
param authAudience string = ''

@description('BRIDGE_AUTH_ISSUER: the one accepted token issuer, only to override the tenant\'s own (e.g. a sovereign cloud). Empty: https://login.microsoftonline.com/<tenant>/v2.0 and https://sts.windows.net/<tenant>/.')
param authIssuer string = ''

@description('BRIDGE_AUTH_METADATA_URL: the OpenID Connect metadata that publishes the signing keys, only to override the tenant\'s own. Empty: https://login.microsoftonline.com/<tenant>/v2.0/.well-known/openid-configuration.')
param authMetadataUrl string = ''

@description('BRIDGE_DATAVERSE_APP_OPERATIONS: true lets a function key alone run the Dataverse operations as the application user, so anyone holding the key acts with its privileges. Leave false unless every key holder may.')
param dataverseAppOperations bool = false
@description('BRIDGE_VERIFY_SYNC: hold synchronous contexts until Dataverse shows their operation committed (with DATAVERSE_URL). Off: they are published at once.')
param verifySync bool = true

@description('BRIDGE_VERIFY_DELAY_SECONDS: how long after receipt a held context is first checked.')
@minValue(1)
@maxValue(600)
param verifyDelaySeconds int = 5

@description('BRIDGE_VERIFY_WINDOW_SECONDS: how long after receipt a held context\'s operation may take to show before it is recorded rolledBack.')
@minValue(1)
@maxValue(86400)
param verifyWindowSeconds int = 300

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = 'func-bridge-${resourceToken}'
// Names passed to modules as known values, not as other modules' outputs, so that what-if (`azd provision --preview`)
// can predict the resources the modules reference by name.
var storageAccountName = 'st${resourceToken}'
var applicationInsightsName = 'appi-${resourceToken}'
var serviceBusNamespaceName = 'sb-${resourceToken}'
var eventGridTopicName = 'evgt-${resourceToken}'
// Flex Consumption reads the deployed package from this container, with the app's identity.
var deploymentContainerName = 'app-package-${take(resourceToken, 7)}'
// Event Grid writes events it could not deliver here, with the topic's identity.
var deadLetterContainerName = 'eventgrid-deadletter'
// The checks of held synchronous contexts (verifyHeld's Queue trigger), and where the host moves those it gave up on.
var verifyQueueName = '${storagePrefix}-verify'
var verifyPoisonQueueName = '${verifyQueueName}-poison'

resource rg 'Microsoft.Resources/resourceGroups@2025-04-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: applicationInsightsName
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: tags
    name: storageAccountName
    containerNames: [deploymentContainerName, deadLetterContainerName]
    queueNames: [verifyQueueName, verifyPoisonQueueName]
  }
}

module serviceBus 'modules/serviceBus.bicep' = {
  name: 'serviceBus'
  scope: rg
  params: {
    location: location
    tags: tags
    name: serviceBusNamespaceName
    queueName: dataverseQueueName
    topicName: dataverseTopicName
    subscriptionName: dataverseSubscriptionName
    lockDuration: serviceBusLockDuration
    maxDeliveryCount: serviceBusMaxDeliveryCount
  }
}

module eventGrid 'modules/eventGrid.bicep' = {
  name: 'eventGrid'
  scope: rg
  params: {
    location: location
    tags: tags
    name: eventGridTopicName
    allowKeys: allowEventGridKeys
  }
}

module functionApp 'modules/functionApp.bicep' = {
  name: 'functionApp'
  scope: rg
  params: {
    location: location
    tags: tags
    name: functionAppName
    planName: 'plan-${resourceToken}'
    dataverseIdentityName: 'id-dataverse-${resourceToken}'
    dataverseUrl: dataverseUrl
    nodeVersion: nodeVersion
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    storageAccountName: storageAccountName
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: applicationInsightsName
    serviceBusFullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
    dataverseQueueName: dataverseQueueName
    dataverseTopicName: dataverseTopicName
    dataverseSubscriptionName: dataverseSubscriptionName
    eventGridTopicEndpoint: eventGrid.outputs.endpoint
    storagePrefix: storagePrefix
    leaseSeconds: leaseSeconds
    unhealthyAfter: unhealthyAfter
    deliveryTimeoutSeconds: deliveryTimeoutSeconds
    reconcileTables: reconcileTables
    reconcileSchedule: reconcileSchedule
    authTenantId: authTenantId
    authAudience: authAudience
    authIssuer: authIssuer
    authMetadataUrl: authMetadataUrl
    dataverseAppOperations: dataverseAppOperations
    verifySync: verifySync
    verifyDelaySeconds: verifyDelaySeconds
    verifyWindowSeconds: verifyWindowSeconds
  }
  // The app's settings and deployment container reference these by name.
  dependsOn: [storage, monitoring]
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  scope: rg
  params: {
    // A role assignment's name must be known before deployment and stay the same on every redeployment, so it is
    // derived from the principal id (renaming existing assignments would fail with RoleAssignmentExists). A managed
    // identity's principal id exists only once the identity does: what-if cannot predict these assignments.
    #disable-next-line what-if-short-circuiting
    appPrincipalId: functionApp.outputs.principalId
    #disable-next-line what-if-short-circuiting
    topicPrincipalId: eventGrid.outputs.principalId
    storageAccountName: storageAccountName
    deadLetterContainerName: deadLetterContainerName
    verifyQueueName: verifyQueueName
    verifyPoisonQueueName: verifyPoisonQueueName
    applicationInsightsName: applicationInsightsName
    serviceBusNamespaceName: serviceBusNamespaceName
    queueName: dataverseQueueName
    topicName: dataverseTopicName
    subscriptionName: dataverseSubscriptionName
    serviceBusOwnerForScaling: serviceBusOwnerForScaling
    eventGridTopicName: eventGridTopicName
    developerPrincipalId: grantDeveloperAccess ? principalId : ''
  }
  // The roles are granted on these by name (the Service Bus entities come through functionApp's dependency on
  // serviceBus's outputs).
  dependsOn: [storage, monitoring]
}

// Everything the next steps need (docs/deploy.md, docs/dataverse.md, the postdeploy hook). azd stores these in
// .azure/<environment>/.env. None is a secret: the Send-only connection string for Dataverse is read on demand with
// `az servicebus queue authorization-rule keys list`, never output here.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output FUNCTION_APP_URL string = functionApp.outputs.url
output DATAVERSE_WEBHOOK_URL string = '${functionApp.outputs.url}/api/dataverse/webhook'
output CONNECTOR_DEFINITION_URL string = '${functionApp.outputs.url}/api/openapi.json'
// The application (client) id of the identity the app calls Dataverse with: the Dataverse admin creates an application
// user with it (docs/dataverse.md). A user-assigned identity, because ARM does not expose the application id of a
// system-assigned one.
output DATAVERSE_APPLICATION_ID string = functionApp.outputs.dataverseClientId
output SERVICEBUS_NAMESPACE string = serviceBus.outputs.name
output SERVICEBUS_QUEUE_NAME string = dataverseQueueName
output SERVICEBUS_QUEUE_SEND_RULE string = serviceBus.outputs.queueSendRuleName
output SERVICEBUS_TOPIC_NAME string = dataverseTopicName
output SERVICEBUS_SUBSCRIPTION_NAME string = dataverseSubscriptionName
output SERVICEBUS_TOPIC_SEND_RULE string = serviceBus.outputs.topicSendRuleName
output EVENTGRID_TOPIC_NAME string = eventGrid.outputs.name
output EVENTGRID_TOPIC_ENDPOINT string = eventGrid.outputs.endpoint
output STORAGE_ACCOUNT_NAME string = storage.outputs.name
output EVENTGRID_DEADLETTER_CONTAINER string = deadLetterContainerName
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
