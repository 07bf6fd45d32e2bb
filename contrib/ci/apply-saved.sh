#!/bin/sh
# Apply exactly the plan that was reviewed (docs/reconcile.md): the saved plan from the merge
# request's pipeline, never a fresh one. domform refuses it when a host changed since it was
# made (the plan is stale: plan again and review again) or when the file was edited.
#
#   apply-saved.sh [PLANFILE]      (default: $PLAN_OUT, else plan.json)
#
# Environment (optional): DOMFORM (domform), DOMFORM_FILE (domform.yaml), and PLAN_SHA256: the
# hash the comment showed; when set, a plan file with any other hash is refused before domform
# runs (an artifact from another pipeline, or swapped).
set -u

DOMFORM=${DOMFORM:-domform}
DOMFORM_FILE=${DOMFORM_FILE:-domform.yaml}
plan=${1:-${PLAN_OUT:-plan.json}}

if [ ! -f "$plan" ]; then
  echo "apply-saved.sh: no saved plan at $plan (keep plan-comment.sh's plan as an artifact)" >&2
  exit 1
fi
if [ -n "${PLAN_SHA256:-}" ]; then
  have=$(sha256sum <"$plan" | cut -d' ' -f1)
  if [ "$have" != "$PLAN_SHA256" ]; then
    echo "apply-saved.sh: $plan has sha256 $have, not the reviewed $PLAN_SHA256; refusing" >&2
    exit 1
  fi
fi
"$DOMFORM" apply "$plan" -f "$DOMFORM_FILE"
rc=$?
if [ "$rc" -ne 0 ]; then
  echo "apply-saved.sh: domform refused or failed (exit $rc); a stale plan needs a new plan and review" >&2
fi
exit "$rc"
