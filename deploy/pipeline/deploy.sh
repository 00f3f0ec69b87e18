#!/usr/bin/env bash
# A deployment pipeline's deploy step: roll VERSION out through lbcontrol and fail the job unless
# it succeeded. Works in any CI (see github-actions.yml and gitlab-ci.yml next to it).
#   LBCTL=path/to/lbctl LBCTL_CONTROL=http://10.0.0.5:9902 LBCTL_CONTROL_TOKEN=... \
#     deploy/pipeline/deploy.sh VERSION [REASON]
# Exit codes are lbctl's: 0 succeeded, 3 rolled back, 4 waiting for approval, 5 paused,
# 6 timed out, 1 error. A job that should wait for a person can re-run this after approval.
set -uo pipefail
VERSION=${1:?usage: deploy.sh VERSION [REASON]}
REASON=${2:-"pipeline ${CI_PIPELINE_URL:-${GITHUB_RUN_ID:-local}}"}
LBCTL=${LBCTL:-lbctl}
TIMEOUT=${DEPLOY_TIMEOUT:-1800}

"$LBCTL" deploy "$VERSION" --wait --timeout "$TIMEOUT" --reason "$REASON"
code=$?
case $code in
  0) echo "deploy: $VERSION is live" ;;
  3) echo "deploy: $VERSION was rolled back automatically; the previous release serves" >&2
     "$LBCTL" history >&2 || true ;;
  4) echo "deploy: $VERSION waits for approval: lbctl rollout approve" >&2 ;;
  5) echo "deploy: the rollout of $VERSION is paused: lbctl rollout status" >&2 ;;
  6) echo "deploy: $VERSION did not finish within ${TIMEOUT}s; it is still running" >&2 ;;
  *) echo "deploy: lbctl failed (exit $code)" >&2 ;;
esac
exit $code
