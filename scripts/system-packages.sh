#!/usr/bin/env bash
# Installs the Debian packages a make target needs when they are missing, so that `make run`
# and `make test` are the whole set-up on a fresh Debian machine. Each argument is
# COMMAND_OR_CHECK:PACKAGE[,PACKAGE]; a check starting with "font:" asks fontconfig for a family.
# Without root (or password-less sudo) it names the command to run and fails: a browser suite
# that errors on every test says less than one line telling what is missing.
set -euo pipefail

missing=()
for spec in "$@"; do
  check=${spec%%:*}
  rest=${spec#*:}
  if [ "$check" = "font" ]; then
    family=${rest%%:*}
    packages=${rest#*:}
    if command -v fc-list >/dev/null && fc-list ":family=$family" | grep -q .; then continue; fi
  else
    packages=$rest
    if command -v "$check" >/dev/null; then continue; fi
  fi
  IFS=, read -r -a names <<<"$packages"
  missing+=("${names[@]}")
done

[ ${#missing[@]} -eq 0 ] && exit 0

# `make test` runs its install steps side by side, and apt and dpkg take one caller at a time:
# callers with something missing queue here, and each checks again once it holds the lock (the
# one before it may have just installed the same thing).
if [ -z "${GONGCHUANG_SYSTEM_PACKAGES_LOCKED:-}" ] && command -v flock >/dev/null; then
  export GONGCHUANG_SYSTEM_PACKAGES_LOCKED=1
  exec flock "${TMPDIR:-/tmp}/gongchuang-system-packages.lock" "$0" "$@"
fi

if [ "$(id -u)" -eq 0 ]; then
  run=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  run=(sudo -n)
else
  echo "Missing Debian packages: ${missing[*]}" >&2
  echo "Install them with:  sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "Missing packages: ${missing[*]} (this is not a Debian system: install them with its" \
    "package manager)" >&2
  exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
"${run[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${run[@]}" apt-get install -y -qq \
  "${missing[@]}" >/dev/null
