#!/bin/sh
# Install the Debian packages hfshim needs, when missing. As root: apt-get install.
# Otherwise: print the exact command to run.
missing=""
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# node/npm may come from elsewhere (nodesource, nvm): accept any working npm.
case "$missing" in *nodejs*|*npm*)
    if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
        missing=$(echo "$missing" | sed 's/ nodejs//; s/ npm//')
    fi;;
esac
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "hfshim: installing Debian packages:$missing"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
else
    echo "hfshim: missing Debian packages. Run:"
    echo "  sudo apt-get update && sudo apt-get install -y$missing"
    exit 1
fi
