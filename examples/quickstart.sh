#!/usr/bin/env bash
# dockyard's main job, end to end: start the daemon, make a local busybox base image, load it,
# list and inspect it with dockyard's CLI and with the real docker CLI, run containers from it,
# then stop the daemon.
#
#   bash examples/quickstart.sh            # on a temporary data root, removed at the end
#   DOCKYARD_DATA_ROOT=/var/lib/dockyard bash examples/quickstart.sh   # keep the data
#
# Prints each step; exits non-zero on the first failure.
set -euo pipefail

step() { printf '\n==> %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

work=$(mktemp -d /tmp/dockyard-quickstart.XXXXXX)
data_root=${DOCKYARD_DATA_ROOT:-$work/root}
socket=$work/dockyard.sock
export DOCKYARD_HOST=unix://$socket
daemon_pid=""

cleanup() {
    status=$?
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid" 2>/dev/null || true
        wait "$daemon_pid" 2>/dev/null || true
    fi
    if [ "$status" -ne 0 ] && [ -f "$work/daemon.log" ]; then
        echo "--- daemon log (last lines) ---" >&2
        tail -n 20 "$work/daemon.log" >&2 || true
    fi
    rm -rf "$work"
    [ "$status" -eq 0 ] || echo "quickstart FAILED (exit $status)" >&2
    exit "$status"
}
trap cleanup EXIT

step "Start the dockyard daemon (data root $data_root, socket $socket)"
printf '$ dockyard daemon --data-root %s -H %s --pidfile %s &\n' "$data_root" "$DOCKYARD_HOST" "$work/dockyard.pid"
dockyard daemon --data-root "$data_root" -H "$DOCKYARD_HOST" --pidfile "$work/dockyard.pid" \
    >"$work/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 200); do
    if python3 -c "import sys; from dockyard.testing.daemon import ping_unix; sys.exit(not ping_unix('$socket'))"; then
        break
    fi
    kill -0 "$daemon_pid" 2>/dev/null || { echo "the daemon exited early" >&2; exit 1; }
    sleep 0.05
done
run dockyard version

step "Make the busybox base image from Debian's busybox-static (no internet needed)"
archive=$(python3 -m dockyard.testing.busybox "$work")
echo "archive: $archive ($(stat -c %s "$archive") bytes)"

step "Load it into the daemon"
run dockyard load -i "$archive"

step "List images with dockyard's CLI"
run dockyard images

if command -v docker >/dev/null 2>&1; then
    step "List images with the real docker CLI, pointed at the dockyard daemon"
    DOCKER_HOST=$DOCKYARD_HOST DOCKER_CONFIG=$work/docker-config run docker images
fi

step "Inspect it"
run dockyard image inspect --format 'ID {{.Id}}  OS/arch {{.Os}}/{{.Architecture}}  Cmd {{.Config.Cmd}}  layers {{len .RootFS.Layers}}' busybox
run dockyard history busybox

step "Run a container from it (its output streams back; --rm removes it when it exits)"
run dockyard run --rm busybox echo "hello from a dockyard container"

step "Run a named one without --rm: it stays listed after it exits, with its logs, until removed"
run dockyard run --name quickstart busybox sh -c 'echo "written to the log at $(date +%T)"'
run dockyard ps -a
run dockyard logs quickstart
run dockyard rm quickstart

step "Stop the daemon (SIGTERM)"
run kill -TERM "$daemon_pid"
wait "$daemon_pid"
daemon_pid=""
if [ -e "$socket" ]; then
    echo "the socket $socket was not removed" >&2
    exit 1
fi
echo "daemon stopped cleanly"
printf '\nquickstart OK\n'
