#!/usr/bin/env bash
# The runtime stage of docker/Dockerfile installs exactly the shared libraries the image's
# binaries need beyond debian:bookworm-slim (docker/runtime-closure.sh defines both):
#   1. the package of every library a binary links directly (DT_NEEDED) is listed;
#   2. the package of every other library ldd resolves is listed or comes with a listed
#      package's dependencies (apt installs those);
#   3. every listed package provides one of those libraries, or is on ALLOWED below.
#
#   runtime_libs_test.sh DOCKERFILE BINARY...
# Exit status: 0 pass, 1 fail, 77 skipped (this machine is not the image's Debian release).
set -euo pipefail

CLOSURE="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/docker/runtime-closure.sh"
STAGE=runtime

# Packages the image needs that no ldd can see.
declare -A ALLOWED=(
  [ca-certificates]="the TLS trust store: canaryctl's HTTPS checks, helm and kubectl"
)

(($# >= 2)) || { echo "usage: $0 DOCKERFILE BINARY..." >&2; exit 2; }
dockerfile="$1"
shift

# The stage's FROM image, and the packages of its `apt-get install` commands, one a line
# (version pins such as pkg=1.0 dropped). Continuation lines are joined and comment lines inside
# them skipped, as Docker parses them.
stage_image="$(awk -v stage="$STAGE" '
  toupper($1) == "FROM" && tolower($(NF - 1)) == "as" && $NF == stage { print $2 }' "$dockerfile")"
if [ -z "$stage_image" ]; then
  echo "FAIL: $dockerfile has no stage named '$STAGE' (FROM <image> AS $STAGE)" >&2
  exit 1
fi
mapfile -t listed < <(awk -v stage="$STAGE" '
  function handle(instruction,    words, n, i, installing) {
    n = split(instruction, words, /[ \t]+/)
    if (toupper(words[1]) == "FROM") { current = tolower(words[n - 1]) == "as" ? words[n] : ""; return }
    if (current != stage || toupper(words[1]) != "RUN") return
    for (i = 2; i <= n; i++) {
      if (words[i] ~ /^(&&|\|\||;|\|)$/) { installing = 0; continue }
      if (installing && words[i] ~ /\$/) { print "ERROR variable " words[i]; continue }
      if (installing && words[i] !~ /^-/) { sub(/=.*/, "", words[i]); sub(/;$/, "", words[i]); print words[i] }
      if (words[i] == "install" && words[i - 1] ~ /(^|\/)apt(-get)?$/) installing = 1
    }
  }
  /^[ \t]*#/ { next }
  { line = $0 }
  line ~ /\\[ \t]*$/ { sub(/\\[ \t]*$/, " ", line); pending = pending line; next }
  { handle(pending line); pending = "" }
  END { if (pending != "") handle(pending) }' "$dockerfile")
if printf '%s\n' "${listed[@]}" | grep -q '^ERROR '; then
  echo "FAIL: the $STAGE stage's apt-get install list uses variables; this test cannot read them:" >&2
  printf '%s\n' "${listed[@]}" | sed -n 's/^ERROR variable /  /p' >&2
  exit 1
fi
if ((${#listed[@]} == 0)); then
  echo "FAIL: found no 'apt-get install' in the $STAGE stage of $dockerfile" >&2
  exit 1
fi

# The package names are the image's only if this machine runs the same Debian release.
image_release="${stage_image#*:}"
image_release="${image_release%%-*}"
here_release="$(. /etc/os-release && echo "${VERSION_CODENAME:-unknown}")"
if [ "$image_release" != "$here_release" ]; then
  echo "SKIP: the $STAGE stage is $stage_image but this machine runs $here_release"
  exit 77
fi

rows="$("$CLOSURE" libs "$@")"
declare -A base=() installs=() is_listed=() provides=()
while read -r p; do base[$p]=1; done < <("$CLOSURE" base)
for p in "${listed[@]}"; do is_listed[$p]=1; done
while read -r p; do installs[$p]=1; done < <("$CLOSURE" closure "${listed[@]}" 2>/dev/null)

echo "runtime stage ($stage_image) installs: ${listed[*]}"
echo "libraries beyond the base image, by package:"
failures=()
while IFS=$'\t' read -r binary soname path link pkg where; do
  if [ -z "$binary" ] || [ "$where" != extra ]; then continue; fi
  provides[$pkg]+=" $soname"
  if [ "$link" = direct ] && [ -z "${is_listed[$pkg]+x}" ]; then
    failures+=("missing: $pkg — $(basename "$binary") links $soname ($path) directly; add $pkg to the $STAGE stage's apt-get install")
  elif [ -z "${installs[$pkg]+x}" ]; then
    failures+=("missing: $pkg — $(basename "$binary") needs $soname ($path) and no listed package depends on $pkg; add it to the $STAGE stage's apt-get install")
  fi
done <<<"$rows"
for pkg in $(printf '%s\n' "${!provides[@]}" | sort); do
  how="listed"
  [ -n "${is_listed[$pkg]+x}" ] || how="a listed package's dependency"
  printf '  %-20s %-45s %s\n' "$pkg" "$(tr ' ' '\n' <<<"${provides[$pkg]}" | sort -u | xargs)" "$how"
done

for pkg in "${listed[@]}"; do
  if [ -n "${ALLOWED[$pkg]+x}" ]; then
    echo "  $pkg: allowed (${ALLOWED[$pkg]})"
  elif [ -n "${base[$pkg]+x}" ]; then
    failures+=("unneeded: $pkg is already in the base image $stage_image; drop it from the apt-get install")
  elif [ -z "${provides[$pkg]+x}" ]; then
    failures+=("unneeded: $pkg provides no library that $(for b in "$@"; do basename "$b"; done | tr '\n' ' ')needs; drop it, or allow it in $0 with the reason")
  fi
done

if ((${#failures[@]} > 0)); then
  printf 'FAIL: %s\n' "${failures[@]}"
  exit 1
fi
echo "PASS: the $STAGE stage installs every library the binaries need, and nothing else"
