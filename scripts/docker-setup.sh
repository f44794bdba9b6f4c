#!/usr/bin/env bash
# Makes this machine ready to build and run docker-compose.yml: a Docker engine that answers, a
# Compose, and the base image debian:sid-slim. Idempotent: what is already there is only reported.
#
#   bash scripts/docker-setup.sh            all three steps
#   bash scripts/docker-setup.sh engine     only the Docker engine
#   bash scripts/docker-setup.sh compose    only the Compose
#   bash scripts/docker-setup.sh base       only the base image
#
# Engine: when `docker info` fails and we are root, installs Debian's docker.io if dockerd is
#   missing and starts `dockerd` in the background (log /var/log/uapi-dockerd.log, pid file
#   /run/uapi-dockerd.pid: `kill $(cat /run/uapi-dockerd.pid)` stops it; scripts/test-docker.sh
#   stops the dockerd it started). Needs no systemd.
# Compose: the v2 plugin (`docker compose`) when present; else, as root, Debian sid's docker-compose
#   package (2.x; Debian 12 has only v1) is downloaded with a private apt configuration (the
#   machine's sources are not touched) and its plugin binary copied to
#   /usr/local/lib/docker/cli-plugins/docker-compose. docker-compose v1 is accepted as a last resort.
# Base image: `docker pull debian:sid-slim`; without a reachable registry, built locally:
#   debootstrap --variant=minbase sid DIR, then tar -C DIR -c . | docker import - debian:sid-slim.
#
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian), DOCKERD_WAIT (s, default 60).
set -euo pipefail

DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DOCKERD_WAIT=${DOCKERD_WAIT:-60}
DOCKERD_LOG=/var/log/uapi-dockerd.log
DOCKERD_PID=/run/uapi-dockerd.pid
PLUGIN_DIR=/usr/local/lib/docker/cli-plugins
BASE_IMAGE=debian:sid-slim

log() { printf '[docker-setup] %s\n' "$*" >&2; }
die() { printf '[docker-setup] ERROR: %s\n' "$*" >&2; exit 1; }
is_root() { [[ $(id -u) == 0 ]]; }

apt_updated=
apt_install() {
  [[ -n $apt_updated ]] || { apt-get update -qq >/dev/null; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_engine() {
  if timeout 10 docker info >/dev/null 2>&1; then
    log "engine: answers (server $(docker version -f '{{.Server.Version}}' 2>/dev/null), storage driver $(docker info -f '{{.Driver}}' 2>/dev/null))"
    return 0
  fi
  is_root || die "no Docker engine answers and we are not root: start one (dockerd) or run as root"
  if ! command -v dockerd >/dev/null 2>&1; then
    log "engine: no dockerd; installing Debian's docker.io"
    apt_install docker.io || die "apt-get install docker.io failed"
  fi
  command -v docker >/dev/null 2>&1 || die "docker.io installed but no docker CLI on PATH"
  log "engine: starting dockerd in the background (log $DOCKERD_LOG)"
  # setsid + closed stdio: dockerd must not hold a caller's pipe or terminal (npm, a CI log).
  setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
  echo $! >"$DOCKERD_PID"
  local deadline=$((SECONDS + DOCKERD_WAIT))
  until timeout 5 docker info >/dev/null 2>&1; do
    if ! kill -0 "$(cat "$DOCKERD_PID")" 2>/dev/null; then
      tail -20 "$DOCKERD_LOG" >&2
      die "dockerd exited (log above, $DOCKERD_LOG)"
    fi
    ((SECONDS < deadline)) || { tail -20 "$DOCKERD_LOG" >&2; die "dockerd did not answer within ${DOCKERD_WAIT}s"; }
    sleep 0.5
  done
  log "engine: dockerd pid $(cat "$DOCKERD_PID") answers (server $(docker version -f '{{.Server.Version}}'))"
}

# apt-get with its own lists, cache and sources (Debian sid), so that the machine's apt is untouched.
sid_apt() {
  local dir=$1; shift
  apt-get -o Dir::Etc::SourceList="$dir/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
    -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache" -o Dir::State::Status=/var/lib/dpkg/status \
    -o APT::Architecture="$(dpkg --print-architecture)" ${SID_APT_OPTIONS:-} "$@"
}

fetch_compose_plugin() {
  local dir out
  dir=$(mktemp -d /tmp/uapi-compose.XXXXXX)
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
  echo "deb $DEBIAN_MIRROR sid main" >"$dir/sources.list"
  if ! out=$(sid_apt "$dir" update 2>&1); then
    # A mirror serving a sid Release file past its Valid-Until: apt refuses it. This download is a
    # one-off of one package (signatures are still checked), so retry without the freshness check.
    if grep -qi 'Valid-Until\|expired\|no longer valid' <<<"$out"; then
      log "compose: the mirror's sid Release file is past its Valid-Until; retrying with Acquire::Check-Valid-Until=false"
      SID_APT_OPTIONS="-o Acquire::Check-Valid-Until=false"
      out=$(sid_apt "$dir" update 2>&1) || { echo "$out" | tail -5 >&2; rm -rf "$dir"; return 1; }
    else
      echo "$out" | tail -5 >&2; rm -rf "$dir"; return 1
    fi
  fi
  (cd "$dir" && sid_apt "$dir" download docker-compose >/dev/null 2>&1) || { log "compose: apt-get download docker-compose failed"; rm -rf "$dir"; return 1; }
  dpkg-deb -x "$dir"/docker-compose_*.deb "$dir/x"
  local bin
  bin=$(find "$dir/x" -path '*cli-plugins/docker-compose' -type f | head -1)
  [[ -n $bin ]] || { log "compose: no cli-plugins/docker-compose in $(basename "$dir"/docker-compose_*.deb)"; rm -rf "$dir"; return 1; }
  install -D -m 0755 "$bin" "$PLUGIN_DIR/docker-compose"
  log "compose: installed $PLUGIN_DIR/docker-compose from $(basename "$dir"/docker-compose_*.deb)"
  rm -rf "$dir"
}

ensure_compose() {
  if docker compose version >/dev/null 2>&1; then
    log "compose: $(docker compose version 2>/dev/null | head -1)"
    return 0
  fi
  if is_root; then
    log "compose: no v2 plugin; fetching Debian sid's docker-compose package"
    if fetch_compose_plugin && docker compose version >/dev/null 2>&1; then
      log "compose: $(docker compose version | head -1)"
      return 0
    fi
  fi
  if command -v docker-compose >/dev/null 2>&1 && docker-compose version >/dev/null 2>&1; then
    log "compose: only v1 available ($(docker-compose version --short 2>/dev/null)); scripts/pbx.sh accepts it"
    return 0
  fi
  die "no Compose: neither the v2 plugin nor docker-compose v1"
}

ensure_base() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "base image: $BASE_IMAGE present ($(docker image inspect -f '{{.Id}} created {{.Created}}' "$BASE_IMAGE" | cut -c8-19,72-))"
    return 0
  fi
  if timeout 60 docker pull -q "$BASE_IMAGE" >/dev/null 2>&1; then
    log "base image: pulled $BASE_IMAGE"
    return 0
  fi
  is_root || die "no $BASE_IMAGE, no registry, and debootstrap needs root"
  command -v debootstrap >/dev/null 2>&1 || { log "base image: installing debootstrap"; apt_install debootstrap; }
  local dir
  dir=$(mktemp -d /tmp/uapi-sid-base.XXXXXX)
  log "base image: no registry reachable; debootstrap --variant=minbase sid (about 30 s)"
  if ! debootstrap --variant=minbase sid "$dir" "$DEBIAN_MIRROR" >"$dir.log" 2>&1; then
    tail -20 "$dir.log" >&2; rm -rf "$dir"; die "debootstrap failed (log $dir.log)"
  fi
  # The package cache debootstrap leaves is not part of an image.
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  tar -C "$dir" -c . | docker import --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$dir" "$dir.log"
  log "base image: imported $BASE_IMAGE ($(docker image inspect -f '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
}

case "${1:-all}" in
  all) ensure_engine; ensure_compose; ensure_base ;;
  engine) ensure_engine ;;
  compose) ensure_compose ;;
  base) ensure_base ;;
  *) echo "usage: $0 [all|engine|compose|base]" >&2; exit 2 ;;
esac
