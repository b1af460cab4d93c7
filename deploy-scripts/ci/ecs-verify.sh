#!/usr/bin/env bash
# Fails unless the ECS service now runs TASK_DEFINITION: its PRIMARY deployment is that
# revision and completed. When the deployment circuit breaker rolled back, the service is
# stable again on the previous revision; that is a failed deploy, and this says so with the
# rollout's reason and the service's latest events.
#
#   ecs-verify.sh CLUSTER SERVICE TASK_DEFINITION_ARN      needs AWS credentials (aws CLI)
set -o errexit -o nounset -o pipefail

# shellcheck source=deploy-scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
script_init ecs-verify.sh "ecs-verify.sh CLUSTER SERVICE TASK_DEFINITION_ARN"
[[ $# -eq 3 ]] || usage

cluster=$1 service=$2 task_definition=$3
[[ $task_definition == arn:*:task-definition/* ]] || die "not a task-definition ARN: '$task_definition'" 64
require_commands aws jq

described=$(aws ecs describe-services --cluster "$cluster" --services "$service" --output json) ||
  die "cannot describe the service $service in $cluster"
report=$(jq -r --arg td "$task_definition" '
  .services[0] as $s
  | ($s.deployments // []) as $d
  | ($d | map(select(.status == "PRIMARY")) | first) as $primary
  | ($d | map(select(.taskDefinition == $td)) | first) as $ours
  | if $s == null then "no such service"
    elif $primary.taskDefinition == $td and ($primary.rolloutState // "COMPLETED") == "COMPLETED" then "ok"
    else "the service runs \($primary.taskDefinition // "nothing"), not \($td): "
      + (if $ours then "deployment \($ours.id) \($ours.rolloutState // "?"): \($ours.rolloutStateReason // "no reason given")"
         else "the deployment circuit breaker rolled it back" end)
      + "; latest events: " + ([$s.events[0:3][]?.message] | join(" | "))
    end' <<<"$described") || die "unexpected answer from describe-services"
[[ $report == ok ]] || die "$service: $report"
log "$service runs $task_definition"
