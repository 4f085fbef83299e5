#!/usr/bin/env bash
# The docker checks must be able to fail: each takes deliberately broken copies of
# docker/Dockerfile and must reject every one, naming what is wrong.
#
#   mutants.sh lint NPM_BIN_DIR DOCKERFILE
#   mutants.sh runtime-libs DOCKERFILE BINARY...
#   mutants.sh pins DOCKERFILE SETUP_SCRIPT
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failed=0

# expect NAME SED_SCRIPT EXPECTED_REGEX CHECK [ARGS...]: the CHECK run on a copy of the
# Dockerfile edited by SED_SCRIPT (@DOCKERFILE@ in ARGS) fails and prints EXPECTED_REGEX.
expect() {
  local name="$1" edit="$2" expected="$3" check="$4" out status
  shift 4
  local copy="$tmp/$name.Dockerfile"
  sed -e "$edit" "$dockerfile" > "$copy"
  if cmp -s "$dockerfile" "$copy"; then
    echo "BROKEN MUTANT $name: '$edit' changed nothing in $dockerfile"
    failed=1
    return
  fi
  status=0
  out="$("$here/$check" "${@/@DOCKERFILE@/$copy}" 2>&1)" || status=$?
  if ((status == 1)) && grep -Eq -- "$expected" <<<"$out"; then
    echo "rejected $name: $(grep -E -m1 -- "$expected" <<<"$out")"
  else
    printf 'NOT REJECTED %s (exit %s, expected /%s/):\n%s\n' "$name" "$status" "$expected" "$out"
    failed=1
  fi
}

mode="${1:-}"
shift || true
case "$mode" in
  lint)
    bin="$1" dockerfile="$2"
    expect unknown-instruction '$a FOOBAR canaryctl' 'Unknown instruction: FOOBAR' \
      lint_test.sh "$bin" @DOCKERFILE@
    # A warning alone leaves dockerfile-utils' exit status 0; the test must still fail.
    expect deprecated-maintainer '/^FROM debian:bookworm-slim/a MAINTAINER someone' \
      'MAINTAINER has been deprecated' lint_test.sh "$bin" @DOCKERFILE@
    ;;
  runtime-libs)
    dockerfile="$1"
    shift
    # Skipped where the real check is (not the image's Debian release).
    status=0
    "$here/runtime_libs_test.sh" "$dockerfile" "$@" > /dev/null 2>&1 || status=$?
    if ((status == 77)); then
      echo "SKIP: runtime_libs_test.sh skips on this machine"
      exit 77
    fi
    # The binaries link Poco, yaml-cpp, libgit2, OpenSSL and libstdc++ statically: beyond glibc
    # only libgit2's GSSAPI is shared, and its package brings the Kerberos libraries.
    expect missing-direct-library '/^ *libgssapi-krb5-2 /d' \
      'missing: libgssapi-krb5-2 — canaryctl links libgssapi_krb5\.so\.2' \
      runtime_libs_test.sh @DOCKERFILE@ "$@"
    expect unneeded-package 's/^\( *\)libgssapi-krb5-2 \\$/\1libgssapi-krb5-2 curl \\/' \
      'unneeded: curl provides no library' runtime_libs_test.sh @DOCKERFILE@ "$@"
    expect package-in-base 's/^\( *\)libgssapi-krb5-2 \\$/\1libgssapi-krb5-2 libstdc++6 \\/' \
      'unneeded: libstdc\+\+6 is already in the base image' \
      runtime_libs_test.sh @DOCKERFILE@ "$@"
    ;;
  pins)
    dockerfile="$1" setup="$2"
    expect helm-sum-drift 's/^ARG HELM_SHA256=./ARG HELM_SHA256=0/' \
      'ARG HELM_SHA256 is .*scripts/setup pins' pins_test.sh @DOCKERFILE@ "$setup"
    expect entrypoint '$a ENTRYPOINT ["canaryctl"]' 'ENTRYPOINT is set' \
      pins_test.sh @DOCKERFILE@ "$setup"
    expect root-user 's/^USER .*/USER root/' "the last USER is 'root'" \
      pins_test.sh @DOCKERFILE@ "$setup"
    ;;
  *)
    echo "usage: $0 lint|runtime-libs|pins ..." >&2
    exit 2
    ;;
esac
exit "$failed"
