#!/bin/sh
# Prints the child pipelines of several plans with `canaryctl pipeline` (every strategy; 1 to 10
# gates; non-default flags) and validates them against GitLab's CI schema.
#   child_pipelines_schema.sh CANARYCTL NODE VALIDATOR SCHEMA SOURCE_DIR
set -eu
canaryctl=$1 node=$2 validator=$3 schema=$4 src=$5
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export CI_COMMIT_SHORT_SHA=0123abcd
config="$src/examples/rollout/rollout.yaml"

child() {  # NAME [VAR=VALUE...] -- [FLAG...]
  name=$1
  shift
  env_args=""
  while [ "$1" != "--" ]; do env_args="$env_args $1"; shift; done
  shift
  # shellcheck disable=SC2086
  env $env_args "$canaryctl" --config "$config" pipeline --output "$out/$name.yml" "$@"
}

child hybrid-one-step CANARYCTL_TRAFFIC_STEPS=0,100 --
child hybrid-article --
child hybrid-five CANARYCTL_TRAFFIC_STEPS=0,10,25,50,75,100 -- --kube-context group/agents:prod
child hybrid-ten CANARYCTL_TRAFFIC_STEPS=0,1,2,5,10,20,35,50,70,90,100 -- \
  --job-prefix checkout: --stage canary --rollback-stage .post --environment review/app \
  --tier staging --resource-group 'checkout $CI_ENVIRONMENT_SLUG' --manual-promotion false
child canary CANARYCTL_STRATEGY=canary CANARYCTL_CANDIDATE_NAMESPACE=prod \
  CANARYCTL_CANDIDATE_RELEASE=demoapp-canary CANARYCTL_CANDIDATE_SERVICE=flaskapp-canary \
  CANARYCTL_CANDIDATE_WORKLOAD=flaskapp-canary --
child blue-green CANARYCTL_STRATEGY=blue-green CANARYCTL_TRAFFIC_STEPS=0,100 \
  CANARYCTL_STABLE_RELEASE=demoapp-blue CANARYCTL_STABLE_SERVICE=flaskapp-blue \
  CANARYCTL_STABLE_WORKLOAD=flaskapp-blue CANARYCTL_CANDIDATE_NAMESPACE=prod \
  CANARYCTL_CANDIDATE_RELEASE=demoapp-green CANARYCTL_CANDIDATE_SERVICE=flaskapp-green \
  CANARYCTL_CANDIDATE_WORKLOAD=flaskapp-green --

"$node" "$validator" "$schema" "$out"/*.yml
# The ten-step plan has ten gates, in order.
gates=$(grep -c '^checkout:shift-[0-9]*:' "$out/hybrid-ten.yml")
[ "$gates" -eq 10 ] || { echo "hybrid-ten: $gates gates, expected 10" >&2; exit 1; }
