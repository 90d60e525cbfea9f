# azd postup hook (Windows, PowerShell 7): registers the Dataverse side — the service endpoint and the steps of the
# registration file — with `dataverse-bridge register` (docs/dataverse.md), when the azd environment has DATAVERSE_URL
# and the file exists; otherwise says how to do it by hand. Never fails `azd up`: the Azure side is in place either way.
# Safe to run again, also by hand: pwsh infra/hooks/registerDataverse.ps1
Set-Location (Join-Path $PSScriptRoot '..' '..')

if (-not $env:AZURE_RESOURCE_GROUP -and (Get-Command azd -ErrorAction SilentlyContinue)) {
  foreach ($line in (azd env get-values)) {
    if ($line -match '^([A-Za-z_][A-Za-z0-9_]*)="?(.*?)"?$') {
      Set-Item -Path "env:$($Matches[1])" -Value $Matches[2]
    }
  }
}

$file = if ($env:DATAVERSE_REGISTRATION_FILE) { $env:DATAVERSE_REGISTRATION_FILE } else { 'registration.json' }
# The CLI's entry point as package.json names it (wherever the tooling lives).
$cli = node -p "require('./package.json').bin['dataverse-bridge']"

if (-not $env:DATAVERSE_URL -or -not (Test-Path $file)) {
  Write-Host "postup: the Dataverse steps were not registered (DATAVERSE_URL is not set in the azd environment, or $file is missing)."
  Write-Host "  To register them: copy samples/registration.json to $file and fill it in from 'azd env get-values', then"
  Write-Host "    azd env set DATAVERSE_URL https://<your-org>.crm.dynamics.com; azd hooks run postup"
  Write-Host "  or by hand: `$env:DATAVERSE_URL='https://<your-org>.crm.dynamics.com'; node $cli register --config $file"
  Write-Host '  (docs/dataverse.md, "Register with dataverse-bridge register").'
  exit 0
}

if (-not (Test-Path $cli)) { npm run build --silent }
Write-Host "postup: registering the Dataverse side from $file in $($env:DATAVERSE_URL)"
node $cli register --config $file
if ($LASTEXITCODE -ne 0) {
  Write-Warning "postup: the Dataverse registration did not complete (see above). Fix it, then run: node $cli register --config $file"
}
exit 0
