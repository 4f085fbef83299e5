#!/usr/bin/env bash
# What the image's binaries need at run time, as Debian packages, and which of those the base
# image already has. One definition shared by test/docker (the runtime stage's apt-get list must
# match it) and bench/image_closure (the closure's size). Run it on Debian bookworm, the release
# both of docker/Dockerfile's stages use, so package names and sonames are the image's.
#
#   runtime-closure.sh libs BINARY...   one line per (binary, resolved library), tab-separated:
#                                       binary soname path direct|indirect package base|extra
#                                       (a static binary, like helm or kubectl, prints nothing)
#   runtime-closure.sh base             the base image's packages, one a line
#   runtime-closure.sh closure PKG...   PKG and all it depends on (what apt-get would install)
#
# "The base image": debian:bookworm-slim is debuerreotype's minbase variant, i.e. what
# debootstrap installs for Priority: required (and Essential: yes) packages plus apt, each with
# its Depends/Pre-Depends; -slim drops documentation files, not packages. With no Docker engine
# to pull the image, and since a copied manifest goes stale with point releases, that set is
# derived here from the same rule applied to this machine's dpkg database. Only installed
# packages are seen, which is enough: a library must be installed here for ldd to resolve it.
set -euo pipefail

# Installed packages: name, priority, essential, pre-depends+depends, provides.
installed_packages() {
  dpkg-query -W -f='${db:Status-Abbrev}\t${Package}\t${Priority}\t${Essential}\t${Pre-Depends}, ${Depends}\t${Provides}\n' |
    awk -F'\t' '$1 ~ /^ii/ { print $2 "\t" $3 "\t" $4 "\t" $5 "\t" $6 }'
}

# The dependency closure of the roots (mode "base": required/essential packages and apt;
# mode "list": the names in $2). An alternative group (a | b) counts its first installed
# member, as apt would find it satisfied; virtual names resolve through Provides.
dependency_closure() {
  installed_packages | awk -F'\t' -v mode="$1" -v wanted="${2:-}" '
    function bare(s) { gsub(/\([^)]*\)/, "", s); gsub(/:[a-z0-9-]+/, "", s); gsub(/[ \t]/, "", s); return s }
    function resolve(n) { if (n in have) return n; if (n in provider) return provider[n]; return "" }
    function enqueue(n) { if (n != "" && !(n in seen)) { seen[n] = 1; queue[tail++] = n } }
    {
      have[$1] = 1; deps[$1] = $4
      if (mode == "base" && ($2 == "required" || $3 == "yes")) roots[$1] = 1
      n = split($5, provides, ",")
      for (i = 1; i <= n; i++) { v = bare(provides[i]); if (v != "" && !(v in provider)) provider[v] = $1 }
    }
    END {
      if (mode == "base") roots["apt"] = 1
      else { n = split(wanted, w, " "); for (i = 1; i <= n; i++) roots[w[i]] = 1 }
      for (r in roots) {
        if (resolve(r) == "") print "runtime-closure: " r " is not installed here; its dependencies are unknown" > "/dev/stderr"
        enqueue(resolve(r))
      }
      for (head = 0; head < tail; head++) {
        n = split(deps[queue[head]], groups, ",")
        for (g = 1; g <= n; g++) {
          m = split(groups[g], alternatives, "|"); found = ""
          for (a = 1; a <= m && found == ""; a++) found = resolve(bare(alternatives[a]))
          enqueue(found)
        }
      }
      for (p in seen) print p
    }' | sort
}

# Fills `owner` (path -> package) for the library paths given, with one dpkg-query call (it
# reads the whole file database each time). ldd prints paths under /lib while bookworm's dpkg
# records some packages under /usr/lib (merged /usr), so each path is asked in both spellings
# and by its real path.
declare -A owner=()
find_owners() {
  local -A asked=()
  local path real candidate line pkgs file
  for path in "$@"; do
    real="$(readlink -f "$path")"
    for candidate in "$path" "/usr$path" "${path#/usr}" "$real" "/usr$real" "${real#/usr}"; do
      asked[$candidate]=1
    done
  done
  local -A found=()
  while IFS= read -r line; do
    case "$line" in diversion*) continue ;; esac
    pkgs="${line%%: /*}"
    file="/${line#*: /}"
    pkgs="${pkgs%%,*}"
    found[$file]="${pkgs%%:*}"  # drop the architecture qualifier (libfoo:amd64)
  done < <(dpkg-query -S "${!asked[@]}" 2>/dev/null || true)
  for path in "$@"; do
    real="$(readlink -f "$path")"
    for candidate in "$path" "/usr$path" "${path#/usr}" "$real" "/usr$real" "${real#/usr}"; do
      if [ -n "${found[$candidate]+x}" ]; then
        owner[$path]="${found[$candidate]}"
        break
      fi
    done
    if [ -z "${owner[$path]+x}" ]; then
      echo "runtime-closure: no Debian package owns $path" >&2
      return 1
    fi
  done
}

# binary soname path direct|indirect: every library ldd resolves (vdso has no file and is
# skipped).
resolved_libraries() {
  local binary="$1" out
  if ! out="$(LC_ALL=C ldd "$binary" 2>&1)"; then
    case "$out" in
      *"not a dynamic executable"*) return 0 ;;  # static: needs nothing
      *) printf 'runtime-closure: ldd %s failed:\n%s\n' "$binary" "$out" >&2; return 1 ;;
    esac
  fi
  if grep -q "not found" <<<"$out"; then
    printf 'runtime-closure: %s needs libraries ldd cannot find:\n%s\n' "$binary" \
      "$(grep 'not found' <<<"$out")" >&2
    return 1
  fi
  # The binary's own DT_NEEDED entries tell what it links directly; ldd adds the rest.
  local needed
  needed="$(LC_ALL=C readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
  awk -v bin="$binary" -v needed=" $needed" '
    function row(soname, path) {
      print bin "\t" soname "\t" path "\t" (index(needed, " " soname " ") ? "direct" : "indirect")
    }
    $2 == "=>" && $3 ~ /^\// { row($1, $3) }
    $1 ~ /^\// { n = split($1, parts, "/"); row(parts[n], $1) }' <<<"$out"
}

libs() {
  local -A base=() paths=()
  local rows=() p binary soname path link row found
  while read -r p; do base[$p]=1; done < <(dependency_closure base)
  for binary in "$@"; do
    [ -f "$binary" ] || { echo "runtime-closure: no such binary: $binary" >&2; return 1; }
    # Not `< <(...)`: a failing ldd must fail this script.
    found="$(resolved_libraries "$binary")"
    [ -n "$found" ] || continue
    while IFS=$'\t' read -r binary soname path link; do
      rows+=("$binary"$'\t'"$soname"$'\t'"$path"$'\t'"$link")
      paths[$path]=1
    done <<<"$found"
  done
  ((${#paths[@]} > 0)) || return 0
  find_owners "${!paths[@]}"
  for row in "${rows[@]}"; do
    IFS=$'\t' read -r binary soname path link <<<"$row"
    p="${owner[$path]}"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$binary" "$soname" "$path" "$link" "$p" \
      "$([ -n "${base[$p]+x}" ] && echo base || echo extra)"
  done
}

case "${1:-}" in
  libs) shift; libs "$@" ;;
  base) dependency_closure base ;;
  closure) shift; dependency_closure list "$*" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
