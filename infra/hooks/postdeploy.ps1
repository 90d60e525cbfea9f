# azd postdeploy hook (Windows, PowerShell 7): subscribes the app's Event Grid functions (projectChanges,
# deliverSubscriptions) to the topic by deploying infra/eventSubscriptions.bicep to the resource group.
#
# Why after deploy: Event Grid validates a subscription to a function against the deployed function, and `azd up`
# provisions the app before its code exists. Needs the Azure CLI signed in to the same subscription (`az login`);
# azd's own sign-in is separate. Safe to run again, also by hand: pwsh infra/hooks/postdeploy.ps1
$ErrorActionPreference = 'Stop'

Set-Location (Join-Path $PSScriptRoot '..' '..')

# azd hands the environment's values (main.bicep's outputs) to its hooks; run by hand, ask azd for them.
if (-not $env:AZURE_RESOURCE_GROUP) {
  foreach ($line in (azd env get-values)) {
    if ($line -match '^([A-Za-z_][A-Za-z0-9_]*)="?(.*?)"?$') {
      Set-Item -Path "env:$($Matches[1])" -Value $Matches[2]
    }
  }
}

$required = 'AZURE_SUBSCRIPTION_ID', 'AZURE_RESOURCE_GROUP', 'AZURE_FUNCTION_APP_NAME', 'EVENTGRID_TOPIC_NAME',
  'STORAGE_ACCOUNT_NAME', 'EVENTGRID_DEADLETTER_CONTAINER'
foreach ($name in $required) {
  if (-not (Get-Item -Path "env:$name" -ErrorAction SilentlyContinue).Value) {
    Write-Error "postdeploy: $name is not set. Run 'azd provision' (or 'azd up') first."
  }
}

if (-not (Get-Command az -ErrorAction SilentlyContinue)) {
  Write-Error ("postdeploy: the Azure CLI (az) is needed to create the Event Grid subscriptions. Install it, run " +
    "'az login', then run: pwsh infra/hooks/postdeploy.ps1")
}
az account show --only-show-errors *> $null
if ($LASTEXITCODE -ne 0) {
  Write-Error "postdeploy: the Azure CLI is not signed in. Run 'az login', then: pwsh infra/hooks/postdeploy.ps1"
}

# The functions appear a little after the package is deployed (the host starts and indexes them); until then Event
# Grid refuses the subscriptions, so try a few times.
$attempts = 6
for ($attempt = 1; $attempt -le $attempts; $attempt++) {
  Write-Host "postdeploy: subscribing projectChanges and deliverSubscriptions to $env:EVENTGRID_TOPIC_NAME (attempt $attempt of $attempts)"
  az deployment group create `
    --subscription $env:AZURE_SUBSCRIPTION_ID `
    --resource-group $env:AZURE_RESOURCE_GROUP `
    --name event-subscriptions `
    --template-file infra/eventSubscriptions.bicep `
    --parameters `
    "topicName=$env:EVENTGRID_TOPIC_NAME" `
    "functionAppName=$env:AZURE_FUNCTION_APP_NAME" `
    "deadLetterStorageAccountName=$env:STORAGE_ACCOUNT_NAME" `
    "deadLetterContainerName=$env:EVENTGRID_DEADLETTER_CONTAINER" `
    --only-show-errors --output none
  if ($LASTEXITCODE -eq 0) {
    Write-Host 'postdeploy: Event Grid subscriptions are in place.'
    exit 0
  }
  if ($attempt -lt $attempts) { Start-Sleep -Seconds 30 }
}

Write-Error ("postdeploy: the Event Grid subscriptions could not be created. Check that the app's functions are " +
  "listed (az functionapp function list -g $env:AZURE_RESOURCE_GROUP -n $env:AZURE_FUNCTION_APP_NAME -o table), " +
  "then run pwsh infra/hooks/postdeploy.ps1 again.")
