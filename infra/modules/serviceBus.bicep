// The Service Bus entities Dataverse posts to: a queue (service endpoint contract Queue) and a topic with the bridge's
// subscription (contract Topic). Standard tier, because Basic has no topics.
//
// Dataverse authenticates with a SAS connection string, so local (SAS) auth stays on, but the only rules are
// entity-scoped and Send-only: what Dataverse holds can post to one entity and do nothing else. The app reads through
// its managed identity (Azure Service Bus Data Receiver, roles.bicep) and holds no key.
param location string
@description('Tags for every resource: name → value.')
param tags { *: string }
param name string
param queueName string
param topicName string
param subscriptionName string
@description('ISO 8601 duration a received message stays locked before renewal.')
param lockDuration string
param maxDeliveryCount int

// Dataverse retries posting for a while, then the system job fails; a message the bridge has not read within this
// time dead-letters rather than vanishing.
var messageTimeToLive = 'P14D'

resource serviceBusNamespace 'Microsoft.ServiceBus/namespaces@2026-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    // Dataverse service endpoints use SAS; the rules below are the only keys, each Send-only on one entity.
    disableLocalAuth: false
  }
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2026-01-01' = {
  parent: serviceBusNamespace
  name: queueName
  properties: {
    lockDuration: lockDuration
    maxDeliveryCount: maxDeliveryCount
    defaultMessageTimeToLive: messageTimeToLive
    deadLetteringOnMessageExpiration: true
    // Dataverse messages are at most 192 KB; 1 GB holds days of backlog while the app is stopped.
    maxSizeInMegabytes: 1024
    // The bridge deduplicates by the context's operation, which survives Dataverse's retries; message ids do not.
    requiresDuplicateDetection: false
    requiresSession: false
    enablePartitioning: false
  }
}

// The connection string of this rule is what the Plug-in Registration Tool takes for the queue endpoint.
resource queueSendRule 'Microsoft.ServiceBus/namespaces/queues/authorizationRules@2026-01-01' = {
  parent: queue
  name: 'dataverse-send'
  properties: {
    rights: ['Send']
  }
}

resource topic 'Microsoft.ServiceBus/namespaces/topics@2026-01-01' = {
  parent: serviceBusNamespace
  name: topicName
  properties: {
    defaultMessageTimeToLive: messageTimeToLive
    maxSizeInMegabytes: 1024
    requiresDuplicateDetection: false
    enablePartitioning: false
  }
}

resource bridgeSubscription 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2026-01-01' = {
  parent: topic
  name: subscriptionName
  properties: {
    lockDuration: lockDuration
    maxDeliveryCount: maxDeliveryCount
    defaultMessageTimeToLive: messageTimeToLive
    deadLetteringOnMessageExpiration: true
    requiresSession: false
  }
}

// The connection string of this rule is what the Plug-in Registration Tool takes for the topic endpoint.
resource topicSendRule 'Microsoft.ServiceBus/namespaces/topics/authorizationRules@2026-01-01' = {
  parent: topic
  name: 'dataverse-send'
  properties: {
    rights: ['Send']
  }
}

output name string = serviceBusNamespace.name
// `https://<namespace>.servicebus.windows.net:443/` → `<namespace>.servicebus.windows.net`, the form
// ServiceBusConnection__fullyQualifiedNamespace takes (and right in sovereign clouds too).
output fullyQualifiedNamespace string = split(replace(serviceBusNamespace.properties.serviceBusEndpoint, 'https://', ''), ':')[0]
output queueSendRuleName string = queueSendRule.name
output topicSendRuleName string = topicSendRule.name
