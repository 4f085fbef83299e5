#!/usr/bin/env bash
# docker/Dockerfile's promises that no linter checks:
#   - the runtime stage re-verifies helm and kubectl against the same sha256 that scripts/setup
#     pins for the tool set it copies (so the two never drift apart), with sha256sum --check;
#   - no ENTRYPOINT (GitLab runs the job's own shell), a numeric non-root USER (Kubernetes'
#     runAsNonRoot can only verify a number), a WORKDIR;
#   - the OCI labels the issue asks for.
#
#   pins_test.sh DOCKERFILE SETUP_SCRIPT
set -euo pipefail
(($# == 2)) || { echo "usage: $0 DOCKERFILE SETUP_SCRIPT" >&2; exit 2; }
dockerfile="$1"
setup="$2"
failures=()

arg() { sed -n "s/^ARG $1=\([0-9a-f]*\)\$/\1/p" "$dockerfile"; }
helm_sha="$(arg HELM_SHA256)"
kubectl_sha="$(arg KUBECTL_SHA256)"
# The tool set the runtime stage copies: tools/<set>/helm.
tool_set="$(sed -n 's|^COPY --from=builder /src/tools/\([^/]*\)/helm .*|\1|p' "$dockerfile")"
# scripts/setup's TOOL_SETS entries: "npm-package helm kubectl folder helm-sha kubectl-sha".
read -r setup_helm setup_kubectl < <(
  sed -n '/^TOOL_SETS=(/,/^)/p' "$setup" | tr '"()\n' '    ' |
    awk -v set="$tool_set" '{ for (i = 4; i <= NF; i++) if ($i == set) print $(i + 1), $(i + 2) }')
if [ -z "$tool_set" ] || [ -z "${setup_helm:-}" ]; then
  failures+=("the runtime stage copies tool set '${tool_set}', which scripts/setup's TOOL_SETS does not define")
else
  [ "$helm_sha" = "$setup_helm" ] ||
    failures+=("ARG HELM_SHA256 is '$helm_sha'; scripts/setup pins $setup_helm for $tool_set")
  [ "$kubectl_sha" = "$setup_kubectl" ] ||
    failures+=("ARG KUBECTL_SHA256 is '$kubectl_sha'; scripts/setup pins $setup_kubectl for $tool_set")
fi
grep -q 'sha256sum --check' "$dockerfile" ||
  failures+=("the runtime stage does not check helm's and kubectl's sha256 (sha256sum --check)")

grep -qi '^ENTRYPOINT' "$dockerfile" &&
  failures+=("ENTRYPOINT is set; GitLab jobs need the image to run the shell they give it")
user="$(sed -n 's/^USER \([^ ]*\)$/\1/p' "$dockerfile" | tail -n1)"
[[ "$user" =~ ^[1-9][0-9]*(:[0-9]+)?$ ]] ||
  failures+=("the last USER is '$user'; it must be a numeric non-root UID")
grep -q '^WORKDIR ' "$dockerfile" || failures+=("no WORKDIR")
for label in title description version revision created source licenses; do
  grep -q "org\.opencontainers\.image\.$label=" "$dockerfile" ||
    failures+=("no org.opencontainers.image.$label label")
done

if ((${#failures[@]} > 0)); then
  printf 'FAIL: %s\n' "${failures[@]}"
  exit 1
fi
echo "PASS: helm/kubectl sums equal scripts/setup's ($tool_set); no ENTRYPOINT; USER $user; OCI labels"
