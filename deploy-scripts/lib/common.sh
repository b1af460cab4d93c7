# shellcheck shell=bash
# The deploy scripts' shared functions, one file per concern. Sourced, never run. Functions that
# build a command or a file's text print it and change nothing, so that tests can compare them;
# the functions that act (engine, nginx, state files) are thin wrappers around those.
#
#   config.sh   messages, the script header (script_init), settings and pure checks
#   lock.sh     the host's deploy lock
#   state.sh    audit log, release history, pin, key=value files
#   metrics.sh  textfile metrics and Prometheus file-SD
#   edge.sh     colors, the nginx edge and its switch file
#   engine.sh   the container engine (docker or podman)
#   release.sh  the steps of a release, shared by deploy, rollback and reconcile
#   preview.sh  change-request previews: their containers, state and nginx routes
lib_dir=${BASH_SOURCE[0]%/*}
# shellcheck source=deploy-scripts/lib/config.sh
source "$lib_dir/config.sh"
# shellcheck source=deploy-scripts/lib/lock.sh
source "$lib_dir/lock.sh"
# shellcheck source=deploy-scripts/lib/state.sh
source "$lib_dir/state.sh"
# shellcheck source=deploy-scripts/lib/metrics.sh
source "$lib_dir/metrics.sh"
# shellcheck source=deploy-scripts/lib/edge.sh
source "$lib_dir/edge.sh"
# shellcheck source=deploy-scripts/lib/engine.sh
source "$lib_dir/engine.sh"
# shellcheck source=deploy-scripts/lib/release.sh
source "$lib_dir/release.sh"
# shellcheck source=deploy-scripts/lib/preview.sh
source "$lib_dir/preview.sh"
unset lib_dir
