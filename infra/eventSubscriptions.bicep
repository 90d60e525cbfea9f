// Subscribes the app's two Event Grid functions to the topic. Deployed to the resource group by
// infra/hooks/postdeploy.* after `azd deploy`, not by main.bicep: Event Grid validates an AzureFunction destination
// against the deployed function (it fetches the function's Event Grid system key), and `azd up` provisions the app
// before its code exists. Safe to deploy again: the subscriptions are updated in place.
targetScope = 'resourceGroup'

@description('The Event Grid custom topic (main.bicep output EVENTGRID_TOPIC_NAME).')
param topicName string

@description('The function app (main.bicep output AZURE_FUNCTION_APP_NAME).')
param functionAppName string

@description('Storage account of the dead-letter container (main.bicep output STORAGE_ACCOUNT_NAME).')
param deadLetterStorageAccountName string

@description('Container undeliverable events go to (main.bicep output EVENTGRID_DEADLETTER_CONTAINER).')
param deadLetterContainerName string

@description('projectChanges keeps the change log: retry long (Event Grid\'s defaults), since an event given up on is a gap in it until replayed from the dead-letter container.')
@minValue(1)
@maxValue(30)
param projectChangesMaxDeliveryAttempts int = 30

@description('deliverSubscriptions posts to flows and fails only while a healthy flow fails; a flow that keeps failing is marked unhealthy (BRIDGE_UNHEALTHY_AFTER) and stops causing retries, so fewer attempts suffice.')
@minValue(1)
@maxValue(30)
param deliverSubscriptionsMaxDeliveryAttempts int = 10

@description('Minutes Event Grid keeps retrying an event before dead-lettering it.')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 1440

resource topic 'Microsoft.EventGrid/topics@2025-02-15' existing = {
  name: topicName
}

resource site 'Microsoft.Web/sites@2025-03-01' existing = {
  name: functionAppName
}

resource deadLetterStorage 'Microsoft.Storage/storageAccounts@2026-09-01' existing = {
  name: deadLetterStorageAccountName
}

// Both subscriptions take every event of the topic (no filter): the functions need them all. Filtered subscriptions
// for other handlers are in docs/event-grid.md.
var deadLetter = {
  // Written with the topic's system identity (Storage Blob Data Contributor on the container, roles.bicep): the
  // storage account accepts no shared keys.
  identity: { type: 'SystemAssigned' }
  deadLetterDestination: {
    endpointType: 'StorageBlob'
    properties: {
      resourceId: deadLetterStorage.id
      blobContainerName: deadLetterContainerName
    }
  }
}

resource projectChanges 'Microsoft.EventGrid/topics/eventSubscriptions@2025-02-15' = {
  parent: topic
  name: 'projectChanges'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${site.id}/functions/projectChanges'
        // One event per request: a failure retries that event alone.
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    // The topic takes CloudEvents and hands them on unchanged; the functions read the CloudEvents shape.
    eventDeliverySchema: 'CloudEventSchemaV1_0'
    retryPolicy: {
      maxDeliveryAttempts: projectChangesMaxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    deadLetterWithResourceIdentity: deadLetter
  }
}

resource deliverSubscriptions 'Microsoft.EventGrid/topics/eventSubscriptions@2025-02-15' = {
  parent: topic
  name: 'deliverSubscriptions'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${site.id}/functions/deliverSubscriptions'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'CloudEventSchemaV1_0'
    retryPolicy: {
      maxDeliveryAttempts: deliverSubscriptionsMaxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    deadLetterWithResourceIdentity: deadLetter
  }
}

output subscriptionNames string[] = [projectChanges.name, deliverSubscriptions.name]
