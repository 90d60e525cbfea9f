#!/bin/sh
# azd postup hook (POSIX): registers the Dataverse side — the service endpoint and the steps of the registration file —
# with `dataverse-bridge register` (docs/dataverse.md), when the azd environment has DATAVERSE_URL and the file exists;
# otherwise says how to do it by hand. Never fails `azd up`: the Azure side is in place either way.
# Safe to run again, also by hand: sh infra/hooks/registerDataverse.sh
set -u

cd "$(dirname "$0")/../.."

if [ -z "${AZURE_RESOURCE_GROUP:-}" ] && command -v azd >/dev/null 2>&1; then
  eval "$(azd env get-values)"
fi

file="${DATAVERSE_REGISTRATION_FILE:-registration.json}"
# The CLI's entry point as package.json names it (wherever the tooling lives).
cli=$(node -p "require('./package.json').bin['dataverse-bridge']")

if [ -z "${DATAVERSE_URL:-}" ] || [ ! -f "$file" ]; then
  echo "postup: the Dataverse steps were not registered (DATAVERSE_URL is not set in the azd environment, or $file is missing)."
  echo "  To register them: copy samples/registration.json to $file and fill it in from 'azd env get-values', then"
  echo "    azd env set DATAVERSE_URL https://<your-org>.crm.dynamics.com && azd hooks run postup"
  echo "  or by hand: DATAVERSE_URL=https://<your-org>.crm.dynamics.com node $cli register --config $file"
  echo "  (docs/dataverse.md, \"Register with dataverse-bridge register\")."
  exit 0
fi

if [ ! -f "$cli" ]; then npm run build --silent; fi
echo "postup: registering the Dataverse side from $file in $DATAVERSE_URL"
if ! node "$cli" register --config "$file"; then
  echo "postup: the Dataverse registration did not complete (see above). Fix it, then run: node $cli register --config $file" >&2
fi
exit 0
