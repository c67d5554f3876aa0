#!/usr/bin/env bash
# install-cni.sh: install the switchyard CNI plugin binary on the node.
#   SWITCHYARD_CNI_SRC  the plugin binary to install   (default /usr/local/bin/switchyard-cni)
#   CNI_BIN_DIR         where runtimes look for plugins (default /opt/cni/bin)
# The plugin is installed under the name of its conflist "type", "switchyard", atomically (copy + rename), so a
# runtime never executes a half-written file. The conflist itself is written by switchyard-agent once the node's
# network is ready.
set -euo pipefail
src=${SWITCHYARD_CNI_SRC:-/usr/local/bin/switchyard-cni}
dir=${CNI_BIN_DIR:-/opt/cni/bin}
mkdir -p "$dir"
tmp=$(mktemp "$dir/.switchyard.XXXXXX")
trap 'rm -f "$tmp"' EXIT
cp "$src" "$tmp"
chmod 0755 "$tmp"
mv -f "$tmp" "$dir/switchyard"
trap - EXIT
echo "install-cni: installed $dir/switchyard" >&2
