#!/bin/sh
# A command check for scripts/demo (examples/rollout/demo.yaml). canaryctl runs it after each
# step with the step's facts in CANARYCTL_* variables. It fails when the candidate's weight is
# $DEMO_FAIL_AT, to show a failing candidate being rolled back; otherwise it passes.
echo "demo-check: phase $CANARYCTL_PHASE, candidate weight $CANARYCTL_WEIGHT%, target $CANARYCTL_TARGET_URL"
if [ -n "${DEMO_FAIL_AT:-}" ] && [ "$CANARYCTL_WEIGHT" = "$DEMO_FAIL_AT" ]; then
  echo "demo-check: fail: the candidate is at $CANARYCTL_WEIGHT% and DEMO_FAIL_AT=$DEMO_FAIL_AT"
  exit 1
fi
echo "demo-check: pass (DEMO_FAIL_AT=${DEMO_FAIL_AT:-unset})"
