#!/bin/sh
# azd postdeploy hook (POSIX): subscribes the app's Event Grid functions (projectChanges, deliverSubscriptions) to
# the topic by deploying infra/eventSubscriptions.bicep to the resource group.
#
# Why after deploy: Event Grid validates a subscription to a function against the deployed function, and `azd up`
# provisions the app before its code exists. Needs the Azure CLI signed in to the same subscription (`az login`);
# azd's own sign-in is separate. Safe to run again, also by hand: sh infra/hooks/postdeploy.sh
set -eu

cd "$(dirname "$0")/../.."

# azd hands the environment's values (main.bicep's outputs) to its hooks; run by hand, ask azd for them.
if [ -z "${AZURE_RESOURCE_GROUP:-}" ]; then
  eval "$(azd env get-values)"
fi

for name in AZURE_SUBSCRIPTION_ID AZURE_RESOURCE_GROUP AZURE_FUNCTION_APP_NAME EVENTGRID_TOPIC_NAME \
  STORAGE_ACCOUNT_NAME EVENTGRID_DEADLETTER_CONTAINER; do
  eval "value=\${$name:-}"
  if [ -z "$value" ]; then
    echo "postdeploy: $name is not set. Run 'azd provision' (or 'azd up') first." >&2
    exit 1
  fi
done

if ! command -v az >/dev/null 2>&1; then
  echo "postdeploy: the Azure CLI (az) is needed to create the Event Grid subscriptions. Install it, run 'az login'," >&2
  echo "then run: sh infra/hooks/postdeploy.sh" >&2
  exit 1
fi
if ! az account show --only-show-errors >/dev/null 2>&1; then
  echo "postdeploy: the Azure CLI is not signed in. Run 'az login', then: sh infra/hooks/postdeploy.sh" >&2
  exit 1
fi

# The functions appear a little after the package is deployed (the host starts and indexes them); until then Event
# Grid refuses the subscriptions, so try a few times.
attempts=6
attempt=1
while :; do
  echo "postdeploy: subscribing projectChanges and deliverSubscriptions to $EVENTGRID_TOPIC_NAME (attempt $attempt of $attempts)"
  if az deployment group create \
    --subscription "$AZURE_SUBSCRIPTION_ID" \
    --resource-group "$AZURE_RESOURCE_GROUP" \
    --name event-subscriptions \
    --template-file infra/eventSubscriptions.bicep \
    --parameters \
    topicName="$EVENTGRID_TOPIC_NAME" \
    functionAppName="$AZURE_FUNCTION_APP_NAME" \
    deadLetterStorageAccountName="$STORAGE_ACCOUNT_NAME" \
    deadLetterContainerName="$EVENTGRID_DEADLETTER_CONTAINER" \
    --only-show-errors --output none; then
    echo "postdeploy: Event Grid subscriptions are in place."
    exit 0
  fi
  if [ "$attempt" -ge "$attempts" ]; then
    echo "postdeploy: the Event Grid subscriptions could not be created. Check that the app's functions are listed" >&2
    echo "(az functionapp function list -g $AZURE_RESOURCE_GROUP -n $AZURE_FUNCTION_APP_NAME -o table), then run" >&2
    echo "sh infra/hooks/postdeploy.sh again." >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 30
done
