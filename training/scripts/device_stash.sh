#!/usr/bin/env bash
# The `device` tool sends the working tree (tracked files included) plus carried paths, 64 MiB at most. The committed
# default bundle (29 MB) plus .device/ (base model 45 MB + data 11 MB) is over that, and no training run needs the
# bundle, so it leaves the tree for the call and comes back after it:
#   bash training/scripts/device_stash.sh out   # before the `run` call
#   bash training/scripts/device_stash.sh in    # right after it (also after a refused or failed call)
# `out` moves models/default to $STASH (default /tmp/relik-stash) and drops it from the index (nothing committed);
# `in` moves it back and restores the index from HEAD, so `git status` is clean again.
set -eu
cd "$(dirname "$0")/../.."
stash=${STASH:-/tmp/relik-stash}
case "${1:-}" in
  out)
    [ -d models/default ] || { echo "models/default is not here (already stashed in $stash?)" >&2; exit 1; }
    [ ! -e "$stash/default" ] || { echo "$stash/default exists: run '$0 in' first" >&2; exit 1; }
    mkdir -p "$stash"
    mv models/default "$stash/default"
    git rm -r -q --cached models/default
    echo "stashed models/default in $stash; the tree that travels: $(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1) bytes + carried paths"
    ;;
  in)
    [ -d "$stash/default" ] || { echo "nothing stashed in $stash" >&2; exit 1; }
    [ ! -e models/default ] || { echo "models/default exists: refusing to overwrite it" >&2; exit 1; }
    mv "$stash/default" models/default
    git reset -q -- models/default
    git status --short -- models/default
    echo "models/default is back"
    ;;
  *) echo "usage: $0 out|in" >&2; exit 2 ;;
esac
