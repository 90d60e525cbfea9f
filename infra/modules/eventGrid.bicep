// The Event Grid custom topic the bridge publishes to. It takes CloudEvents 1.0 (the app posts
// `application/cloudevents-batch+json`), and subscribers filter on `type` (dataverse.<message>) and `subject`
// (<table>/<id>). The topic's system identity writes undeliverable events to the dead-letter container (roles.bicep).
param location string
@description('Tags for every resource: name → value.')
param tags { *: string }
param name string
@description('Keep the topic\'s access keys enabled (only for publishers that cannot use Microsoft Entra ID).')
param allowKeys bool

resource topic 'Microsoft.EventGrid/topics@2025-02-15' = {
  name: name
  location: location
  tags: tags
  identity: { type: 'SystemAssigned' }
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    // The app publishes with its identity (EventGrid Data Sender); with keys off there is no key to leak.
    disableLocalAuth: !allowKeys
    publicNetworkAccess: 'Enabled'
    minimumTlsVersionAllowed: '1.2'
  }
}

output name string = topic.name
// `https://<topic>.<region>-1.eventgrid.azure.net/api/events`: EVENTGRID_TOPIC_ENDPOINT.
output endpoint string = topic.properties.endpoint
output principalId string = topic.identity.principalId
