#!/usr/bin/env bash
# docker/Dockerfile lints clean: dockerfile-utils reports no diagnostic at all. Its exit status
# only counts errors, so the JSON list of diagnostics must be empty, warnings included.
#
#   lint_test.sh NPM_BIN_DIR DOCKERFILE   (NPM_BIN_DIR: tools/npm/node_modules/.bin, Node 22)
set -euo pipefail
(($# == 2)) || { echo "usage: $0 NPM_BIN_DIR DOCKERFILE" >&2; exit 2; }
bin="$1"
dockerfile="$2"
if [ ! -x "$bin/dockerfile-utils" ]; then
  echo "FAIL: $bin/dockerfile-utils is missing; scripts/setup installs it" >&2
  exit 1
fi
# The linter's `#!/usr/bin/env node` must find the pinned Node 22 beside it.
export PATH="$bin:$PATH"
json="$(dockerfile-utils lint --json "$dockerfile" || true)"
if [ "$json" = "[]" ]; then
  echo "PASS: $dockerfile lints clean"
  exit 0
fi
echo "FAIL: dockerfile-utils reports on $dockerfile:"
dockerfile-utils lint "$dockerfile" || true
exit 1
