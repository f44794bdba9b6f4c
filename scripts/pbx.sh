#!/usr/bin/env bash
# Test PBX for the UAPI engine: Debian's Asterisk 22 with the repo's asterisk/ config.
#
#   bash scripts/pbx.sh up       start (idempotent); returns once AMI accepts uapi/uapi-dev-secret
#   bash scripts/pbx.sh down     stop (idempotent); leaves no asterisk process behind
#   bash scripts/pbx.sh status   print state; exit 0 when AMI login works, 1 otherwise
#   bash scripts/pbx.sh logs [N] print the last N (default 200) lines of the Asterisk log
#   bash scripts/pbx.sh cli CMD  run an Asterisk CLI command, e.g. cli "core show channels"
#   bash scripts/pbx.sh build    (chroot mode) only build/validate the cached root, e.g. for CI caches
#
# Two ways of running, same config:
#   * chroot (default without a working Docker engine; Debian/Ubuntu, root): builds once a
#     cached Debian root holding Debian's asterisk package (debootstrap), copies asterisk/*.conf
#     into its /etc/asterisk on every `up`, and runs Asterisk there with chroot. Asterisk shares
#     the host network and binds 127.0.0.1 only (AMI 5038, SIP/UDP 5060, RTP 20000-20999).
#   * docker (when `docker info` answers, a Compose works and no chroot PBX runs; `up` also keeps
#     to the chroot when the last `up` here used it): `docker compose up -d --build asterisk`.
#
# Environment:
#   PBX_MODE    auto (default) | chroot | docker
#   PBX_ROOT    cached root            (default /var/cache/uapi-pbx/rootfs)
#   PBX_SUITE   Debian suite           (default sid = Asterisk 22; fallback: bullseye = Asterisk 16,
#               which ignores the manager.conf eventfilter(name(...)) lines, i.e. sends all events)
#   PBX_MIRROR  Debian mirror          (default http://deb.debian.org/debian)
#   PBX_UP_TIMEOUT seconds `up` waits for AMI (default 60)
set -euo pipefail

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONF_DIR="$REPO_DIR/asterisk"

PBX_MODE=${PBX_MODE:-auto}
PBX_ROOT=${PBX_ROOT:-/var/cache/uapi-pbx/rootfs}
PBX_SUITE=${PBX_SUITE:-sid}
PBX_MIRROR=${PBX_MIRROR:-http://deb.debian.org/debian}
PBX_UP_TIMEOUT=${PBX_UP_TIMEOUT:-60}
# Music on hold (OnHold, Park) plays Debian's opsound files from /usr/share/asterisk/moh.
PBX_PACKAGES=asterisk,asterisk-modules,asterisk-core-sounds-en-gsm,asterisk-moh-opsound-gsm

AMI_HOST=127.0.0.1
AMI_PORT=5038
AMI_USER=uapi
AMI_SECRET=uapi-dev-secret

LOCK_FILE=${PBX_LOCK_FILE:-/run/lock/uapi-pbx.lock}
LOG_IN_ROOT=/var/log/asterisk/messages.log

log() { printf '[pbx] %s\n' "$*" >&2; }
die() { printf '[pbx] ERROR: %s\n' "$*" >&2; exit 1; }

# ----------------------------------------------------------------------------- common

# Serialize up/down between concurrent callers (several engineers, CI jobs).
take_lock() {
  mkdir -p "$(dirname "$LOCK_FILE")"
  exec 9>"$LOCK_FILE"
  flock -w 300 9 || die "could not lock $LOCK_FILE within 300 s"
}

# One AMI login + logoff over bash's /dev/tcp. Succeeds only on "Authentication accepted".
ami_login_ok() {
  local out
  out=$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "Action: Login\r\nUsername: %s\r\nSecret: %s\r\nEvents: off\r\n\r\nAction: Logoff\r\n\r\n" "$2" "$3" >&3
    cat <&3' "$AMI_HOST" "$AMI_PORT" "$AMI_USER" "$AMI_SECRET" 2>/dev/null) || true
  [[ $out == *"Authentication accepted"* ]]
}

# The Compose this machine has: the v2 plugin ("docker compose"), else v1 ("docker-compose").
compose_cmd() {
  if docker compose version >/dev/null 2>&1; then echo "docker compose"
  elif command -v docker-compose >/dev/null 2>&1 && docker-compose version >/dev/null 2>&1; then echo "docker-compose"
  fi
  return 0
}

# The mode of the last successful `up` on this machine (auto mode's `up` keeps to it, see use_docker).
MODE_FILE=${PBX_MODE_FILE:-/var/cache/uapi-pbx/last-up-mode}
remember_mode() { { mkdir -p "$(dirname "$MODE_FILE")" && printf '%s\n' "$1" >"$MODE_FILE"; } 2>/dev/null || true; }
last_up_mode() { cat "$MODE_FILE" 2>/dev/null || true; }

# Docker only when an engine answers, a Compose works and no chroot PBX is running (auto mode);
# says which mode it chose and why. For `up` ($1 = up), also not when the last `up` here ran the
# chroot PBX: `down` then `up` (the outage tests) must not move the PBX into Docker just because a
# Docker engine happens to run meanwhile.
use_docker() {
  local why
  case "$PBX_MODE" in
    docker) return 0 ;;
    chroot) return 1 ;;
    auto)
      if ! command -v docker >/dev/null 2>&1; then why="no docker CLI"
      elif ! timeout 10 docker info >/dev/null 2>&1; then why="a docker CLI but no Docker engine answering"
      elif [[ -z $(compose_cmd) ]]; then why="a Docker engine but no Compose (neither the v2 plugin nor docker-compose v1)"
      elif [[ -n $(asterisk_pids) ]]; then why="a chroot PBX is already running"
      elif [[ ${1:-} == up && $(last_up_mode) == chroot ]]; then why="the last pbx.sh up here ran the chroot PBX; PBX_MODE=docker to switch"
      else
        [[ -n ${MODE_SAID:-} ]] || log "mode: docker ($(compose_cmd) and a Docker engine answer; PBX_MODE=chroot to force the chroot)"
        MODE_SAID=1
        return 0
      fi
      [[ -n ${MODE_SAID:-} ]] || { command -v docker >/dev/null 2>&1 && log "mode: chroot ($why)"; }
      MODE_SAID=1
      return 1 ;;
    *) die "PBX_MODE must be auto, chroot or docker (got $PBX_MODE)" ;;
  esac
}

# Poll AMI until login works or the deadline passes.
wait_for_ami() {
  local deadline=$((SECONDS + PBX_UP_TIMEOUT))
  until ami_login_ok; do
    if ((SECONDS >= deadline)); then
      log "AMI on $AMI_HOST:$AMI_PORT did not accept $AMI_USER within ${PBX_UP_TIMEOUT}s; last log lines:"
      cmd_logs 40 >&2 || true
      return 1
    fi
    sleep 0.2
  done
}

# ----------------------------------------------------------------------------- chroot mode

# PIDs of processes whose root directory is the PBX root (i.e. everything we chrooted).
root_pids() {
  local real
  real=$(readlink -f "$PBX_ROOT" 2>/dev/null) || return 0
  # One find over /proc/<pid>/root symlinks (no process per pid).
  find /proc -mindepth 2 -maxdepth 2 -name root -lname "$real" 2>/dev/null | cut -d/ -f3
  return 0
}

asterisk_pids() {
  local pid
  for pid in $(root_pids); do
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == asterisk ]] && echo "$pid"
  done
  return 0
}

# Valid: Asterisk runs there, and the root was built with today's package list (a stamp).
root_is_valid() {
  [[ -x $PBX_ROOT/usr/sbin/asterisk ]] && chroot "$PBX_ROOT" /usr/sbin/asterisk -V >/dev/null 2>&1 &&
    [[ $(cat "$PBX_ROOT/.uapi-packages" 2>/dev/null) == "$PBX_PACKAGES" ]]
}

# Build the Debian root once (about a minute), atomically: into $PBX_ROOT.tmp, then mv.
ensure_root() {
  root_is_valid && return 0
  [[ $(id -u) == 0 ]] || die "building $PBX_ROOT needs root"
  # The build replaces PBX_ROOT wholesale: refuse anything that is not a dedicated directory.
  [[ $PBX_ROOT == /*/* && $PBX_ROOT != *..* ]] || die "PBX_ROOT must be an absolute path at least two levels deep (got '$PBX_ROOT')"
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  local tmp="$PBX_ROOT.tmp"
  # A root from an older package list may still run an Asterisk: stop it before replacing the root.
  if [[ -n $(asterisk_pids) ]]; then log "stopping the Asterisk of the outdated root"; chroot_down force; fi
  rm -rf "$tmp" "$PBX_ROOT"
  mkdir -p "$(dirname "$PBX_ROOT")"
  log "building $PBX_ROOT: debootstrap $PBX_SUITE with $PBX_PACKAGES (about a minute)"
  debootstrap --variant=minbase --include="$PBX_PACKAGES" "$PBX_SUITE" "$tmp" "$PBX_MIRROR" >"$tmp.log" 2>&1 ||
    { tail -20 "$tmp.log" >&2; die "debootstrap failed (try PBX_SUITE=bullseye); log: $tmp.log"; }
  chroot "$tmp" /usr/sbin/asterisk -V >/dev/null || die "asterisk does not run in $tmp"
  printf '%s' "$PBX_PACKAGES" >"$tmp/.uapi-packages"
  mv "$tmp" "$PBX_ROOT"
  rm -f "$tmp.log"
  log "built $(chroot "$PBX_ROOT" /usr/sbin/asterisk -V)"
}

# Make /etc/asterisk exactly the repo's asterisk/*.conf (no Debian samples left around, same
# as the Docker image; edits take effect on every up) and make the runtime dirs exist with the
# ownership Asterisk (runuser=asterisk) needs.
install_config() {
  find "$PBX_ROOT/etc/asterisk" -mindepth 1 -delete
  install -m 0644 "$CONF_DIR"/*.conf "$PBX_ROOT/etc/asterisk/"
  mkdir -p "$PBX_ROOT/run/asterisk"
  # Call recordings (StartRecording): MixMonitor writes here, the engine reads from
  # $PBX_ROOT/var/spool/asterisk/recordings (config recordings.dir) and keeps metadata beside them.
  mkdir -p "$PBX_ROOT/var/spool/asterisk/recordings"
  chroot "$PBX_ROOT" chown -R asterisk:asterisk /run/asterisk /var/lib/asterisk /var/spool/asterisk \
    /var/log/asterisk /var/cache/asterisk /etc/asterisk
  # Debian's root already has static /dev nodes (null, zero, urandom...) and Asterisk does not
  # need /proc here, so nothing is mounted into the root.
}

close_extra_fds() {
  local fd
  for fd in /proc/self/fd/*; do
    fd=${fd##*/}
    ((fd > 2)) && eval "exec $fd>&-" 2>/dev/null
  done
  return 0
}

chroot_cli() { chroot "$PBX_ROOT" /usr/sbin/asterisk -rx "$*"; }
# Same with a deadline, for health checks (a hung or stopped Asterisk accepts but never answers).
chroot_cli_t() { local secs=$1; shift; timeout -k 1 "$secs" chroot "$PBX_ROOT" /usr/sbin/asterisk -rx "$*"; }

chroot_up() {
  ensure_root
  if [[ -n $(asterisk_pids) ]]; then
    if chroot_cli_t 5 'core show version' >/dev/null 2>&1 && wait_for_ami; then
      log "already up ($(chroot_cli_t 5 'core show version' | head -1 | cut -d' ' -f1-2))"
      return 0
    fi
    log "found an unresponsive Asterisk; restarting it"
    chroot_down force
  fi
  install_config
  rm -f "$PBX_ROOT/run/asterisk/asterisk.pid" "$PBX_ROOT/run/asterisk/asterisk.ctl"
  # Without -f Asterisk daemonizes itself (stdio to /dev/null) and writes its pid file.
  # Close our fds above 2 first: the daemon must not inherit the flock fd or a caller's pipe.
  (close_extra_fds; exec chroot "$PBX_ROOT" /usr/sbin/asterisk </dev/null >/dev/null 2>&1) ||
    { cmd_logs 40 >&2; die "asterisk failed to start"; }
  # Wait until the core says it is fully booted (the control socket appears first).
  local deadline=$((SECONDS + PBX_UP_TIMEOUT))
  until chroot_cli_t 10 'core waitfullybooted' >/dev/null 2>&1; do
    if ((SECONDS >= deadline)) || [[ -z $(asterisk_pids) ]]; then
      log "Asterisk did not boot; last log lines:"
      cmd_logs 40 >&2 || true
      return 1
    fi
    sleep 0.1
  done
  wait_for_ami
  log "up: $(chroot_cli 'core show version' | cut -d' ' -f1-2); AMI $AMI_HOST:$AMI_PORT, SIP udp 127.0.0.1:5060"
}

chroot_down() {
  [[ -d $PBX_ROOT ]] || return 0
  local stopped
  stopped=$(root_pids)
  # Graceful first, unless the caller already knows the CLI does not answer ($1 = force).
  if [[ ${1:-} != force && -n $(asterisk_pids) ]]; then
    chroot_cli_t 5 'core stop now' >/dev/null 2>&1 || true
    local deadline=$((SECONDS + 10))
    while [[ -n $(asterisk_pids) ]] && ((SECONDS < deadline)); do sleep 0.1; done
  fi
  # Anything still running inside the root (a hung asterisk, a stray `asterisk -r`): TERM, then KILL.
  local pids sig
  for sig in TERM KILL; do
    pids=$(root_pids)
    [[ -z $pids ]] && break
    log "sending SIG$sig to leftover processes in $PBX_ROOT: $(echo $pids)"
    kill -s "$sig" $pids 2>/dev/null || true
    kill -s CONT $pids 2>/dev/null || true # a stopped process only acts on TERM once continued
    local deadline=$((SECONDS + 5))
    while [[ -n $(root_pids) ]] && ((SECONDS < deadline)); do sleep 0.1; done
  done
  [[ -z $(root_pids) ]] || die "processes still running in $PBX_ROOT: $(echo $(root_pids))"
  # The daemonized Asterisk is init's child: give init a moment to reap it, so that right after
  # `down` no (defunct) asterisk shows up in pgrep.
  local pid deadline=$((SECONDS + 3))
  for pid in $stopped; do
    while [[ -e /proc/$pid ]] && ((SECONDS < deadline)); do sleep 0.05; done
  done
  # Nothing is mounted by `up`; undo any mount a previous version or a human left in the root.
  local m
  for m in $(awk -v r="$(readlink -f "$PBX_ROOT")" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/mounts | sort -r); do
    umount -l "$m" || true
  done
  rm -f "$PBX_ROOT/run/asterisk/asterisk.pid" "$PBX_ROOT/run/asterisk/asterisk.ctl"
}

# ----------------------------------------------------------------------------- docker mode

compose() {
  local cmd
  cmd=$(compose_cmd)
  [[ -n $cmd ]] || die "no Compose: install the docker compose plugin (v2) or docker-compose (v1)"
  $cmd -f "$REPO_DIR/docker-compose.yml" "$@"
}

# ----------------------------------------------------------------------------- commands

cmd_up() {
  take_lock
  if use_docker up; then
    # The PBX only: the compose file also describes the engine (docker compose up runs both).
    compose up -d --build asterisk
    compose exec -T asterisk asterisk -rx 'core waitfullybooted' >/dev/null 2>&1 || true
    wait_for_ami
    remember_mode docker
    log "up (docker)"
  else
    chroot_up
    remember_mode chroot
  fi
}

cmd_down() {
  take_lock
  if use_docker; then compose rm --stop --force asterisk; else chroot_down; fi
  log "down"
}

cmd_status() {
  if ami_login_ok; then
    log "up: AMI $AMI_HOST:$AMI_PORT accepts $AMI_USER"
    [[ -n $(asterisk_pids 2>/dev/null) ]] && log "chroot asterisk pid(s): $(echo $(asterisk_pids))"
    return 0
  fi
  log "down (AMI on $AMI_HOST:$AMI_PORT does not accept a login)"
  [[ -n $(asterisk_pids 2>/dev/null) ]] && log "but asterisk processes exist in $PBX_ROOT: $(echo $(asterisk_pids))"
  return 1
}

cmd_logs() {
  local n=${1:-200}
  if use_docker; then compose exec -T asterisk tail -n "$n" "$LOG_IN_ROOT"; return; fi
  local f="$PBX_ROOT$LOG_IN_ROOT"
  [[ -f $f ]] || die "no log yet at $f"
  tail -n "$n" "$f"
}

cmd_cli() {
  [[ $# -gt 0 ]] || die 'usage: pbx.sh cli "core show channels"'
  if use_docker; then compose exec -T asterisk asterisk -rx "$*"; else chroot_cli "$*"; fi
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  logs) shift; cmd_logs "$@" ;;
  cli) shift; cmd_cli "$@" ;;
  build) take_lock; ensure_root; log "root ready: $PBX_ROOT ($(chroot "$PBX_ROOT" /usr/sbin/asterisk -V))" ;;
  *) echo "usage: $0 up|down|status|logs [N]|cli \"<asterisk CLI command>\"|build" >&2; exit 2 ;;
esac
