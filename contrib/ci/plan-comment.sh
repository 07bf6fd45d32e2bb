#!/bin/sh
# Plan on a merge/pull request and post the Markdown plan as a comment (docs/reconcile.md).
#
#   plan-comment.sh            plan, write the comment file, post it when a platform is detected
#
# Writes $PLAN_OUT (the saved plan: keep it as the pipeline's artifact and apply exactly it on
# merge with apply-saved.sh) and $COMMENT_OUT (the comment, cut to $MAX_CHARS keeping the
# summary, the causes and the plan file's SHA-256). Exit status: 0 no changes, 2 changes,
# 1 error (the comment then says so); a failed post is an error too.
#
# Environment (all optional):
#   DOMFORM        the domform command (domform)
#   DOMFORM_FILE   desired-state file or directory (domform.yaml)
#   DOMFORM_ARGS   further plan arguments, e.g. "--limit site=fra" (split on spaces)
#   PLAN_OUT       saved plan (plan.json); COMMENT_OUT  comment (plan-comment.md)
#   MAX_CHARS      comment limit (65536: GitHub's and GitLab's note limit)
#   CURL           the poster (curl); tests put a fake one here
#   GitLab: CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID and GITLAB_TOKEN (a project
#           access token with `api` scope; CI_JOB_TOKEN cannot write notes)
#   GitHub: GITHUB_API_URL, GITHUB_REPOSITORY, PR_NUMBER and GITHUB_TOKEN
# The token never reaches a command line: curl reads the header from a private temp file.
set -u

DOMFORM=${DOMFORM:-domform}
DOMFORM_FILE=${DOMFORM_FILE:-domform.yaml}
DOMFORM_ARGS=${DOMFORM_ARGS:-}
PLAN_OUT=${PLAN_OUT:-plan.json}
COMMENT_OUT=${COMMENT_OUT:-plan-comment.md}
MAX_CHARS=${MAX_CHARS:-65536}
CURL=${CURL:-curl}

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# shellcheck disable=SC2086 # DOMFORM_ARGS is a list of words on purpose
"$DOMFORM" plan -f "$DOMFORM_FILE" $DOMFORM_ARGS -o "$PLAN_OUT" --format markdown \
  --max-chars "$MAX_CHARS" --detailed-exitcode >"$COMMENT_OUT" 2>"$tmp/stderr"
rc=$?
cat "$tmp/stderr" >&2
if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then
  {
    printf '### domform plan failed (exit %s)\n\n```\n' "$rc"
    dd if="$tmp/stderr" bs=60000 count=1 2>/dev/null
    printf '\n```\n'
  } >"$COMMENT_OUT"
  rc=1
fi

# The comment as a JSON string, in POSIX awk: backslashes, quotes and control characters escaped.
json_body() {
  awk 'BEGIN { printf "{\"body\":\"" }
       { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\t/, "\\t"); gsub(/\r/, "\\r");
         gsub(/[\001-\010\013\014\016-\037]/, "");
         if (NR > 1) printf "\\n"; printf "%s", $0 }
       END { printf "\"}\n" }' "$1"
}

post() { # url token-header
  umask 077
  printf '%s\n' "$2" >"$tmp/header"
  json_body "$COMMENT_OUT" >"$tmp/body.json"
  "$CURL" --silent --show-error --fail --request POST \
    --header "Content-Type: application/json" --header "@$tmp/header" \
    --data-binary "@$tmp/body.json" "$1" >"$tmp/response" || {
    echo "plan-comment.sh: posting the comment to $1 failed" >&2
    return 1
  }
  echo "plan-comment.sh: posted the plan to $1" >&2
}

if [ -n "${CI_MERGE_REQUEST_IID:-}" ] && [ -n "${GITLAB_TOKEN:-}" ]; then
  url="${CI_API_V4_URL:?}/projects/${CI_PROJECT_ID:?}/merge_requests/$CI_MERGE_REQUEST_IID/notes"
  post "$url" "PRIVATE-TOKEN: $GITLAB_TOKEN" || exit 1
elif [ -n "${PR_NUMBER:-}" ] && [ -n "${GITHUB_TOKEN:-}" ]; then
  url="${GITHUB_API_URL:-https://api.github.com}/repos/${GITHUB_REPOSITORY:?}/issues/$PR_NUMBER/comments"
  post "$url" "Authorization: Bearer $GITHUB_TOKEN" || exit 1
else
  echo "plan-comment.sh: no merge request or token in the environment; the comment is in $COMMENT_OUT" >&2
fi
exit "$rc"
