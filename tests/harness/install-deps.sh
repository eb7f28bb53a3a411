#!/bin/sh
# install-deps.sh PKG...: install the Debian packages of the list that are not
# installed yet, non-interactively. Runs no apt at all when none is missing.
set -eu
missing=
for p in "$@"; do
    case " $missing " in *" $p "*) continue ;; esac
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
echo "make deps: installing missing Debian packages:$missing"
if [ "$(id -u)" != 0 ]; then
    echo "make deps: not root; install them first: apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
