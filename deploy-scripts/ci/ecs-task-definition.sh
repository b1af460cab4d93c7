#!/usr/bin/env bash
# Renders the ECS service's next task-definition revision: the family's current revision with
# CONTAINER's image set to IMAGE (by digest) and the fields ECS sets itself removed, so that
# registering it changes nothing but the image. Writes OUTPUT (JSON) atomically.
#
#   ecs-task-definition.sh FAMILY CONTAINER IMAGE OUTPUT      needs AWS credentials (aws CLI)
set -o errexit -o nounset -o pipefail

# shellcheck source=deploy-scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
script_init ecs-task-definition.sh "ecs-task-definition.sh FAMILY CONTAINER IMAGE(registry/repo@sha256:...) OUTPUT"
[[ $# -eq 4 ]] || usage

family=$1 container=$2 image=$3 output=$4
[[ $family =~ ^[A-Za-z0-9_-]{1,255}$ ]] || die "not a task-definition family: '$family'" 64
[[ -n $container ]] || die "CONTAINER is empty (the container's name in the task definition)" 64
if [[ -z $(image_digest "$image") ]] || ! is_image_ref "$image"; then
  die "IMAGE must be an image by digest (registry/repository@sha256:...), got '$image'" 64
fi
require_commands aws jq

current=$(aws ecs describe-task-definition --task-definition "$family" --output json) ||
  die "cannot read the task definition $family"
rendered=$(jq --arg name "$container" --arg image "$image" '
  .taskDefinition
  | if any(.containerDefinitions[]; .name == $name) then . else error("no container named \($name)") end
  | del(.taskDefinitionArn, .revision, .status, .requiresAttributes, .compatibilities,
        .registeredAt, .registeredBy, .deregisteredAt)
  | .containerDefinitions |= map(if .name == $name then .image = $image else . end)
' <<<"$current" 2>&1) || die "task definition $family: $rendered"
printf '%s\n' "$rendered" | write_atomic "$output"
log "task definition $family: container $container runs $image"
