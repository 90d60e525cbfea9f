// Every permission the deployment grants, each at the narrowest scope that works. The app's managed identity gets:
//   Storage Blob Data Owner          storage account   the Functions host (AzureWebJobsStorage: keys, leases), the Flex
//                                                      deployment package, the app's raw-body container
//   Storage Table Data Contributor   storage account   the app's tables (jobs, changes, rows, subscriptions, deliveries)
//   Azure Service Bus Data Receiver  queue and topic   the Service Bus triggers (receive, complete); topic triggers need
//                                    subscription      the role on the subscription itself, not the topic
//   EventGrid Data Sender            Event Grid topic  publishing the CloudEvents
//   Monitoring Metrics Publisher     App Insights      telemetry with Microsoft Entra ID (local auth is off)
//   Storage Queue Data Reader,       verification      verifyHeld's Queue trigger (Learn, "Azure Queue storage trigger"
//   Storage Queue Data Message       queue             identity-based connections: Reader + Message Processor), and
//   Processor, … Message Sender                        the app sending each check to it (Message Sender)
//   Storage Queue Data Contributor   its poison queue  the host moving a message it gave up on (it creates the queue
//                                                      if missing, then sends)
// Both queues are created by storage.bicep; nothing gets a queue role on the account.
// The topic's identity gets Storage Blob Data Contributor on the dead-letter container only.
param appPrincipalId string
param topicPrincipalId string
param storageAccountName string
param deadLetterContainerName string
param verifyQueueName string
param verifyPoisonQueueName string
param applicationInsightsName string
param serviceBusNamespaceName string
param queueName string
param topicName string
param subscriptionName string
@description('Azure Service Bus Data Owner instead of Data Receiver (queue and subscription scope), for target-based scaling.')
param serviceBusOwnerForScaling bool
param eventGridTopicName string
@description('A person to grant read access to blobs and tables (troubleshooting); empty for none.')
param developerPrincipalId string

// Built-in role definition ids: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
var role = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageTableDataReader: '76199698-9eea-4c19-bc75-cec21354c6b6'
  storageQueueDataReader: '19e7f393-937e-4f77-808e-94535e297925'
  storageQueueDataMessageProcessor: '8a0f0c08-91a1-4084-bc3d-661d67233fed'
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
  serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419'
  eventGridDataSender: 'd5a91429-5739-47e2-a06b-3470a27159e7'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}
var serviceBusRole = serviceBusOwnerForScaling ? role.serviceBusDataOwner : role.serviceBusDataReceiver

resource storage 'Microsoft.Storage/storageAccounts@2026-09-01' existing = {
  name: storageAccountName

  resource blobService 'blobServices' existing = {
    name: 'default'

    resource deadLetterContainer 'containers' existing = {
      name: deadLetterContainerName
    }
  }

  resource queueService 'queueServices' existing = {
    name: 'default'

    resource verifyQueue 'queues' existing = {
      name: verifyQueueName
    }

    resource verifyPoisonQueue 'queues' existing = {
      name: verifyPoisonQueueName
    }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource serviceBusNamespace 'Microsoft.ServiceBus/namespaces@2026-01-01' existing = {
  name: serviceBusNamespaceName

  resource queue 'queues' existing = {
    name: queueName
  }

  resource topic 'topics' existing = {
    name: topicName

    resource bridgeSubscription 'subscriptions' existing = {
      name: subscriptionName
    }
  }
}

resource eventGridTopic 'Microsoft.EventGrid/topics@2025-02-15' existing = {
  name: eventGridTopicName
}

// principalType ServicePrincipal: the identities were just created, and this spares ARM a directory lookup that can
// fail while the new principal replicates.

resource appBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, role.storageBlobDataOwner)
  scope: storage
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.storageBlobDataOwner)
  }
}

resource appTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, role.storageTableDataContributor)
  scope: storage
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.storageTableDataContributor)
  }
}

var verifyQueueRoles = [
  role.storageQueueDataReader
  role.storageQueueDataMessageProcessor
  role.storageQueueDataMessageSender
]

resource appVerifyQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for queueRole in verifyQueueRoles: {
    name: guid(storage::queueService::verifyQueue.id, appPrincipalId, queueRole)
    scope: storage::queueService::verifyQueue
    properties: {
      principalId: appPrincipalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', queueRole)
    }
  }
]

resource appVerifyPoisonQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::queueService::verifyPoisonQueue.id, appPrincipalId, role.storageQueueDataContributor)
  scope: storage::queueService::verifyPoisonQueue
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.storageQueueDataContributor)
  }
}

resource appQueueReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(serviceBusNamespace::queue.id, appPrincipalId, serviceBusRole)
  scope: serviceBusNamespace::queue
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusRole)
  }
}

resource appSubscriptionReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(serviceBusNamespace::topic::bridgeSubscription.id, appPrincipalId, serviceBusRole)
  scope: serviceBusNamespace::topic::bridgeSubscription
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusRole)
  }
}

resource appEventGridSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(eventGridTopic.id, appPrincipalId, role.eventGridDataSender)
  scope: eventGridTopic
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.eventGridDataSender)
  }
}

resource appMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, appPrincipalId, role.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.monitoringMetricsPublisher)
  }
}

// Event Grid dead-letters with the topic's identity (deadLetterWithResourceIdentity in eventSubscriptions.bicep).
resource topicDeadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::deadLetterContainer.id, topicPrincipalId, role.storageBlobDataContributor)
  scope: storage::blobService::deadLetterContainer
  properties: {
    principalId: topicPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.storageBlobDataContributor)
  }
}

// Optional, for a person troubleshooting: shared keys are off, so the portal and `az storage … --auth-mode login`
// need a data role to show dead-lettered events and the job tables. Read-only.
resource developerBlobReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(developerPrincipalId)) {
  name: guid(storage.id, developerPrincipalId, role.storageBlobDataReader)
  scope: storage
  properties: {
    principalId: developerPrincipalId
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.storageBlobDataReader)
  }
}

resource developerTableReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(developerPrincipalId)) {
  name: guid(storage.id, developerPrincipalId, role.storageTableDataReader)
  scope: storage
  properties: {
    principalId: developerPrincipalId
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.storageTableDataReader)
  }
}
