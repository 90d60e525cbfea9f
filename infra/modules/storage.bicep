// One storage account for the Functions runtime (AzureWebJobsStorage), the deployment package, the app's tables and
// raw-body container (created by the app on first use), and the events Event Grid dead-letters. Shared keys are off:
// every client (the host, the app, Flex deployment, Event Grid) authenticates with Microsoft Entra ID.
param location string
@description('Tags for every resource: name → value.')
param tags { *: string }
@minLength(3)
@maxLength(24)
param name string
@description('Blob containers to create up front (the deployment package and the dead-letter container).')
param containerNames string[]
@description('Storage queues to create up front (the verification queue of held synchronous contexts and its poison queue).')
param queueNames string[]

resource storage 'Microsoft.Storage/storageAccounts@2026-09-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    // No VNet: the app's egress is to public HTTPS endpoints (Event Grid, Power Automate callbacks).
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }

  resource blobService 'blobServices' = {
    name: 'default'

    resource containers 'containers' = [
      for containerName in containerNames: {
        name: containerName
        properties: { publicAccess: 'None' }
      }
    ]
  }

  // Created here rather than by the app, so the app's identity needs no right to create queues.
  resource queueService 'queueServices' = {
    name: 'default'

    resource queues 'queues' = [
      for queueName in queueNames: {
        name: queueName
      }
    ]
  }
}

output name string = storage.name
