#!/usr/bin/env bash
# npm run test:docker: proves the Docker path end to end on this machine, and ends with PASS or FAIL.
#
#   1. a Docker engine, a Compose and the base image debian:sid-slim (scripts/docker-setup.sh:
#      installs docker.io and starts dockerd, fetches the Compose v2 plugin, debootstraps the base
#      image when no registry answers)
#   2. `docker compose build`: the three images (asterisk/Dockerfile, the PBX; Dockerfile, the engine;
#      postgres/Dockerfile, its database), and what the engine image must be (non-root user uapi,
#      node dist/engine.js, no dev dependencies)
#   3. under the shared PBX lock (/tmp/uapi-pbx-tests.lock; the chroot PBX is stopped for the run and
#      restored after it): pbx.sh keeps to the running chroot PBX, `docker compose up -d`, the engine
#      healthy, the README's curl example, PostgreSQL healthy and a PhoneCallEvent (made with the
#      example's token) stored in it, test/docker/stack-e2e.ts (SIPp phones, one PickUp bridged
#      as Asterisk reports it, a recording written by Asterisk and served by the non-root engine),
#      `docker compose down` leaving nothing running
#   4. the dockerd this script started is stopped again (KEEP_DOCKERD=1 keeps it), so that
#      `npm run pbx:up` on this machine keeps choosing the chroot PBX as before
#
# Environment: UAPI_PORT (engine port; default 8080 when free, else a free one), UAPI_RECORDINGS_DIR
# (default: a fresh temp dir), APT_OPTIONS / EXTRA_CA_CERTS (build arguments; default: detected),
# LOCK_WAIT (s to wait for the PBX lock, default 1200), KEEP_DOCKERD=1.
set -uo pipefail

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_DIR" || exit 1
LOCK_FILE=/tmp/uapi-pbx-tests.lock
LOCK_WAIT=${LOCK_WAIT:-1200}
PBX_ROOT=${PBX_ROOT:-/var/cache/uapi-pbx/rootfs}
DOCKERD_PID=/run/uapi-dockerd.pid
T0=$SECONDS

STEP=0
FAILS=()
step() { STEP=$((STEP + 1)); printf '\n[test-docker] == %d. %s (t=%ds)\n' "$STEP" "$*" "$((SECONDS - T0))"; }
info() { printf '[test-docker]    %s\n' "$*"; }
ok() { printf '[test-docker]    ok   %s\n' "$*"; }
fail() { printf '[test-docker]    FAIL %s\n' "$*"; FAILS+=("$*"); }
# The end: PASS only if nothing failed.
finish() {
  printf '\n'
  if ((${#FAILS[@]} == 0)); then
    printf '[test-docker] PASS (%d s)\n' "$((SECONDS - T0))"
    exit 0
  fi
  printf '[test-docker] FAIL (%d s): %d failure(s)\n' "$((SECONDS - T0))" "${#FAILS[@]}"
  printf '[test-docker]   - %s\n' "${FAILS[@]}"
  exit 1
}
abort() { fail "$*"; cleanup; finish; }

# PIDs of Asterisk processes chrooted into the PBX root (the shared chroot PBX of scripts/pbx.sh).
chroot_pbx_pids() {
  local real pid
  real=$(readlink -f "$PBX_ROOT" 2>/dev/null) || return 0
  for pid in $(find /proc -mindepth 2 -maxdepth 2 -name root -lname "$real" 2>/dev/null | cut -d/ -f3); do
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == asterisk ]] && echo "$pid"
  done
  return 0
}
tcp_listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
udp_bound() { ss -Hlun "sport = :$1" 2>/dev/null | grep -q .; }

# ----------------------------------------------------------------------------- cleanup (any exit)
STACK_UP=
CHROOT_WAS_UP=
CHROOT_STOPPED=
LOCK_HELD=
WE_STARTED_DOCKERD=
cleanup() {
  if [[ -n $STACK_UP ]]; then
    info "cleanup: docker compose down"
    "${COMPOSE[@]}" down --timeout 20 >/dev/null 2>&1 || true
    STACK_UP=
  fi
  if [[ -n $CHROOT_STOPPED ]]; then
    info "cleanup: restoring the chroot PBX"
    PBX_MODE=chroot bash scripts/pbx.sh up >/dev/null 2>&1 || true
    CHROOT_STOPPED=
  fi
  if [[ -n $LOCK_HELD ]]; then exec 8>&-; LOCK_HELD=; fi
  if [[ -n $WE_STARTED_DOCKERD && -z ${KEEP_DOCKERD:-} && -f $DOCKERD_PID ]]; then
    local pid
    pid=$(cat "$DOCKERD_PID")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$DOCKERD_PID"
    WE_STARTED_DOCKERD=
  fi
}
trap 'cleanup' EXIT
trap 'fail "interrupted"; cleanup; finish' INT TERM

# ============================================================================= 1. tools
step "Docker engine"
timeout 10 docker info >/dev/null 2>&1 || WE_STARTED_DOCKERD=1
bash scripts/docker-setup.sh engine 2>&1 | sed 's/^/[test-docker]    /'
((PIPESTATUS[0] == 0)) || abort "no Docker engine"
ok "docker info answers (client $(docker version -f '{{.Client.Version}}'), server $(docker version -f '{{.Server.Version}}'))"

step "Compose"
bash scripts/docker-setup.sh compose 2>&1 | sed 's/^/[test-docker]    /'
((PIPESTATUS[0] == 0)) || abort "no Compose"
if docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose); else COMPOSE=(docker-compose); fi
ok "${COMPOSE[*]}: $("${COMPOSE[@]}" version 2>/dev/null | head -1)"
COMPOSE+=(-f "$REPO_DIR/docker-compose.yml")
PROJECT=$("${COMPOSE[@]}" config 2>/dev/null | sed -n 's/^name: //p')
PROJECT=${PROJECT:-$(basename "$REPO_DIR")}

step "Base image debian:sid-slim"
bash scripts/docker-setup.sh base 2>&1 | sed 's/^/[test-docker]    /'
((PIPESTATUS[0] == 0)) || abort "no base image debian:sid-slim"
ok "debian:sid-slim present"

# ============================================================================= 2. images
step "Build arguments"
if [[ -z ${APT_OPTIONS+set} ]]; then
  APT_OPTIONS=
  probe=$(timeout 120 docker run --rm --network host debian:sid-slim apt-get update 2>&1)
  if grep -qiE 'expired|Valid-Until' <<<"$probe"; then
    APT_OPTIONS="-o Acquire::Check-Valid-Until=false"
    info "the mirror's sid Release file is past its Valid-Until ($(grep -m1 -oiE 'invalid since [^)]*' <<<"$probe")): APT_OPTIONS=\"$APT_OPTIONS\""
  else
    info "apt-get update in debian:sid-slim works: no APT_OPTIONS"
  fi
fi
if [[ -z ${EXTRA_CA_CERTS+set} ]]; then
  EXTRA_CA_CERTS=
  shopt -s nullglob
  cas=(/usr/local/share/ca-certificates/*.crt)
  shopt -u nullglob
  if ((${#cas[@]} > 0)); then
    EXTRA_CA_CERTS=$(cat "${cas[@]}")
    info "EXTRA_CA_CERTS: the ${#cas[@]} locally added CA certificate(s) of this host ($(basename -a "${cas[@]}" | tr '\n' ' ')), for npm ci in the build stage"
  fi
fi
export APT_OPTIONS EXTRA_CA_CERTS
ok "build arguments set"

step "docker compose build (PBX, engine and PostgreSQL images)"
b0=$SECONDS
build_log=$(mktemp /tmp/uapi-compose-build.XXXXXX.log)
if "${COMPOSE[@]}" build >"$build_log" 2>&1; then
  ok "built in $((SECONDS - b0)) s (log $build_log)"
  rm -f "$build_log"
else
  tail -30 "$build_log" | sed 's/^/[test-docker]    | /'
  abort "docker compose build failed (log $build_log)"
fi
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E '^(uapi-test-pbx|uapi-engine|uapi-postgres|debian):' | sed 's/^/[test-docker]    image /'

step "What the images are"
user=$(docker image inspect -f '{{.Config.User}}' uapi-engine:local)
cmd=$(docker image inspect -f '{{join .Config.Cmd " "}}' uapi-engine:local)
hc=$(docker image inspect -f '{{if .Config.Healthcheck}}{{join .Config.Healthcheck.Test " "}}{{end}}' uapi-engine:local)
[[ $user == uapi ]] && ok "engine image runs as user uapi" || fail "engine image user is '$user', not uapi"
[[ $cmd == "node dist/engine.js" ]] && ok "engine image command: $cmd" || fail "engine image command is '$cmd'"
[[ $hc == *"/health/ready"* ]] && ok "engine image health check on /health/ready" || fail "engine image health check: '$hc'"
inside=$(docker run --rm --entrypoint sh uapi-engine:local -c '
  id; node -v
  for p in tsx typescript tap eslint pino-pretty fast-check @types/node esbuild; do [ -e "node_modules/$p" ] && echo "devdep:$p"; done
  echo "deps:$(ls node_modules | wc -l)"' 2>&1)
info "engine image: $(tr '\n' ' ' <<<"$inside")"
grep -q 'devdep:' <<<"$inside" && fail "dev dependencies in the engine image: $(grep -o 'devdep:[^ ]*' <<<"$inside" | tr '\n' ' ')" || ok "no dev dependency (tsx, typescript, tap, eslint...) in the engine image"
grep -q 'groups=.*980(asterisk)' <<<"$inside" && ok "uapi is in group 980 (the recordings group)" || fail "uapi is not in gid 980: $inside"
pbxid=$(docker run --rm --entrypoint sh uapi-test-pbx:local -c 'id asterisk; asterisk -V' 2>&1 | tr '\n' ' ')
[[ $pbxid == *"uid=980(asterisk) gid=980(asterisk)"* ]] && ok "PBX image: $pbxid" || fail "PBX image asterisk ids: $pbxid"
pguser=$(docker image inspect -f '{{.Config.User}}' uapi-postgres:local)
pgver=$(docker run --rm --entrypoint sh uapi-postgres:local -c 'postgres --version' 2>&1)
[[ $pguser == postgres && $pgver == *PostgreSQL* ]] && ok "PostgreSQL image: user $pguser, $pgver" || fail "PostgreSQL image: user '$pguser', '$pgver'"

# ============================================================================= 3. the stack
step "Shared PBX lock $LOCK_FILE"
exec 8>>"$LOCK_FILE"
l0=$SECONDS
if ! flock -n 8; then
  info "held by another test run; waiting up to ${LOCK_WAIT} s"
  flock -w "$LOCK_WAIT" 8 || abort "could not take $LOCK_FILE within ${LOCK_WAIT} s"
fi
LOCK_HELD=1
HOLD0=$SECONDS
ok "lock taken after $((SECONDS - l0)) s"

step "scripts/pbx.sh auto mode while the chroot PBX runs (Docker engine and Compose present)"
if [[ -n $(chroot_pbx_pids) ]]; then
  CHROOT_WAS_UP=1
  out=$(bash scripts/pbx.sh up 2>&1)
  info "pbx.sh up: $(tr '\n' ' ' <<<"$out")"
  [[ $out == *"mode: chroot (a chroot PBX is already running)"* && $out == *"already up"* ]] &&
    ok "pbx.sh stays on the running chroot PBX" || fail "pbx.sh up with the chroot PBX running did not stay on it"
  # What the outage tests do: down, then up. With a Docker engine and a Compose present, `up` must
  # come back to the chroot PBX rather than move it into Docker.
  CHROOT_STOPPED=1
  down=$(bash scripts/pbx.sh down 2>&1)
  out=$(bash scripts/pbx.sh up 2>&1)
  info "pbx.sh down: $(tr '\n' ' ' <<<"$down")"
  info "pbx.sh up: $(tr '\n' ' ' <<<"$out")"
  [[ -n $(chroot_pbx_pids) && $out == *"mode: chroot (the last pbx.sh up here ran the chroot PBX"* ]] &&
    ok "pbx.sh down + up comes back on the chroot PBX" || fail "pbx.sh down + up did not come back on the chroot PBX"
  info "stopping the chroot PBX for the Docker run (restored at the end)"
  PBX_MODE=chroot bash scripts/pbx.sh down 2>&1 | sed 's/^/[test-docker]    /'
else
  info "no chroot PBX running: nothing to keep or restore"
fi
for p in 5038; do tcp_listening $p && abort "TCP port $p still in use: $(ss -Hltnp "sport = :$p")"; done
udp_bound 5060 && abort "UDP 5060 still in use: $(ss -Hlunp 'sport = :5060')"
ok "AMI 5038 and SIP 5060 free"

if [[ -z ${UAPI_PORT:-} ]]; then
  UAPI_PORT=8080
  while tcp_listening "$UAPI_PORT"; do UAPI_PORT=$((UAPI_PORT == 8080 ? 18080 : UAPI_PORT + 1)); done
  [[ $UAPI_PORT == 8080 ]] || info "port 8080 is in use: the engine listens on $UAPI_PORT (UAPI_PORT)"
fi
if [[ -z ${UAPI_RECORDINGS_DIR:-} ]]; then
  UAPI_RECORDINGS_DIR=$(mktemp -d /tmp/uapi-docker-recordings.XXXXXX)
  REC_TMP=1
fi
export UAPI_PORT UAPI_RECORDINGS_DIR
BASE=http://127.0.0.1:$UAPI_PORT

step "docker compose up -d (engine on 127.0.0.1:$UAPI_PORT, recordings in $UAPI_RECORDINGS_DIR)"
u0=$SECONDS
STACK_UP=1
"${COMPOSE[@]}" up -d 2>&1 | sed 's/^/[test-docker]    /'
((PIPESTATUS[0] == 0)) || abort "docker compose up -d failed"
deadline=$((SECONDS + 60))
until curl -fs "$BASE/health/ready" >/dev/null 2>&1; do
  ((SECONDS < deadline)) || { "${COMPOSE[@]}" logs --tail 30 2>&1 | sed 's/^/[test-docker]    | /'; abort "engine not ready on $BASE within 60 s"; }
  sleep 0.3
done
ok "GET /health/ready: 200 after $((SECONDS - u0)) s"
engine_id=$("${COMPOSE[@]}" ps -q engine)
deadline=$((SECONDS + 40))
until [[ $(docker inspect -f '{{.State.Health.Status}}' "$engine_id" 2>/dev/null) == healthy ]]; do
  ((SECONDS < deadline)) || { fail "docker does not report the engine healthy: $(docker inspect -f '{{json .State.Health}}' "$engine_id")"; break; }
  sleep 0.5
done
[[ $(docker inspect -f '{{.State.Health.Status}}' "$engine_id") == healthy ]] && ok "docker reports the engine container healthy after $((SECONDS - u0)) s (HEALTHCHECK interval 10 s)"
"${COMPOSE[@]}" ps --format '{{.Service}} {{.Status}}' 2>/dev/null | sed 's/^/[test-docker]    service /'

step "scripts/pbx.sh against the Docker PBX (auto mode, no chroot PBX running)"
out=$(bash scripts/pbx.sh cli 'core show version' 2>&1)
info "pbx.sh cli: $(tr '\n' ' ' <<<"$out" | cut -c1-160)"
[[ $out == *"mode: docker"* && $out == *"Asterisk 22"* ]] && ok "pbx.sh picks Docker and reaches the container's Asterisk" || fail "pbx.sh cli in auto mode did not reach the Docker PBX"

step "The engine process in its container"
cmdline=$(docker exec "$engine_id" cat /proc/1/cmdline | tr '\0' ' ' | sed 's/ $//')
[[ $cmdline == "node dist/engine.js" ]] && ok "PID 1 command line: $cmdline" || fail "engine command line: '$cmdline'"
env1=$(docker exec "$engine_id" sh -c 'tr "\0" "\n" </proc/1/environ | grep -E "^(NODE_OPTIONS|NODE_ENV)=" ; grep -E "^(Uid|Gid|Groups):" /proc/1/status' | tr '\n' ' ' | tr -s '\t ' ' ')
info "PID 1: $env1"
[[ $env1 == *NODE_OPTIONS=* ]] && fail "NODE_OPTIONS set in the engine: $env1" || ok "no NODE_OPTIONS (no --import/--loader): no TypeScript loader in the process"
[[ $env1 == *"Uid: 981 "* && $env1 == *"Groups: 980 "* ]] && ok "runs as uid 981 (uapi), groups 980 (asterisk)" || fail "engine ids: $env1"
info "host view: $(ps -o user=,pid=,args= -p "$(docker inspect -f '{{.State.Pid}}' "$engine_id")")"

step "The README's curl example"
TOKEN=$(curl -s -X POST "$BASE/oauth/token" -d grant_type=client_credentials -d client_id=demo-12 -d client_secret=demo-secret-12 | jq -r .access_token)
[[ -n $TOKEN && $TOKEN != null ]] && ok "token for demo-12 (${#TOKEN} chars)" || fail "no token from POST /oauth/token"
list=$(curl -s -w '\n%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/uapi/phoneCalls/@me/0003*210")
code=${list##*$'\n'}
info "GET /uapi/phoneCalls/@me/0003*210: $code $(head -1 <<<"$list" | jq -c . 2>/dev/null | cut -c1-200)"
[[ $code == 200 ]] && head -1 <<<"$list" | jq -e 'has("totalResults") and has("entry")' >/dev/null && ok "List answers 200 with a collection" || fail "List: $code"

step "The engine's database: the stack's PostgreSQL"
UAPI_DB_PORT=${UAPI_DB_PORT:-5433}
pg_id=$("${COMPOSE[@]}" ps -q postgres)
[[ $(docker inspect -f '{{.State.Health.Status}}' "$pg_id" 2>/dev/null) == healthy ]] && ok "postgres container healthy" || fail "postgres container: $(docker inspect -f '{{json .State.Health}}' "$pg_id" 2>/dev/null | cut -c1-300)"
tcp_listening "$UAPI_DB_PORT" && ok "PostgreSQL listens on 127.0.0.1:$UAPI_DB_PORT" || fail "nothing listens on $UAPI_DB_PORT"
dburl=$(docker exec "$engine_id" sh -c 'tr "\0" "\n" </proc/1/environ | grep "^DATABASE_URL="' | sed -E 's#(://[^:]+:)[^@]*@#\1***@#')
[[ $dburl == "DATABASE_URL=postgres://uapi:***@127.0.0.1:$UAPI_DB_PORT/uapi" ]] && ok "engine's $dburl" || fail "engine's database: '$dburl'"
# A PhoneCallEvent registered through the API is a row in the stack's PostgreSQL (read there as its
# superuser over the container's socket).
hook="https://8.8.8.8/uapi-docker-test-$$"   # registered disabled (status 0): nothing is delivered to it
pce=$(curl -s -w '\n%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
  -H 'content-type: application/json' -d "{\"type\":0,\"status\":0,\"url\":\"$hook\"}" "$BASE/uapi/extensions/@me/0003*210/phoneCallEvents")
[[ ${pce##*$'\n'} == 200 ]] && ok "POST phoneCallEvents: 200" || fail "POST phoneCallEvents: $(tr '\n' ' ' <<<"$pce" | cut -c1-200)"
rows=$(docker exec "$pg_id" psql -d uapi -tAc "SELECT count(*) FROM event_subscriptions WHERE url = '$hook'" 2>&1)
[[ $rows == 1 ]] && ok "the PhoneCallEvent is a row of uapi.event_subscriptions in the postgres container" || fail "event_subscriptions rows for $hook: '$rows'"

step "SIPp phones, one PickUp bridged, a recording (test/docker/stack-e2e.ts)"
UAPI_URL=$BASE node_modules/.bin/tsx test/docker/stack-e2e.ts 2>&1 | sed 's/^/[test-docker]    /'
((PIPESTATUS[0] == 0)) && ok "stack-e2e passed" || fail "stack-e2e failed"

step "The recordings directory on the host"
ls -lan "$UAPI_RECORDINGS_DIR" | sed -n '2,$p' | grep -v ' \.\.$' | sed 's/^/[test-docker]    /'
dirinfo=$(stat -c '%u:%g %A' "$UAPI_RECORDINGS_DIR")
[[ $dirinfo == "980:980 drwxrws---" ]] && ok "directory $dirinfo (Asterisk's uid/gid, setgid, group rwx)" || fail "recordings directory is $dirinfo"
if find "$UAPI_RECORDINGS_DIR" -name '*.wav' -user 980 -group 980 | grep -q . && find "$UAPI_RECORDINGS_DIR" -name '*.json' -user 981 -group 980 | grep -q .; then
  ok "audio written by Asterisk (980:980), metadata by the engine (981:980)"
else
  fail "expected a .wav owned 980:980 and a .json owned 981:980"
fi

step "docker compose down"
d0=$SECONDS
"${COMPOSE[@]}" down 2>&1 | sed 's/^/[test-docker]    /'
((PIPESTATUS[0] == 0)) || fail "docker compose down failed"
STACK_UP=
left=$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT")
[[ -z $left ]] && ok "no container of project $PROJECT left (down took $((SECONDS - d0)) s)" || fail "containers left: $left"
running=$(docker ps -q)
[[ -z $running ]] && ok "docker ps: nothing running" || info "other containers running: $running"
busy=
tcp_listening 5038 && busy+=" tcp/5038"
udp_bound 5060 && busy+=" udp/5060"
tcp_listening "$UAPI_PORT" && busy+=" tcp/$UAPI_PORT"
tcp_listening "$UAPI_DB_PORT" && busy+=" tcp/$UAPI_DB_PORT"
[[ -z $busy ]] && ok "ports 5038, 5060, $UAPI_PORT and $UAPI_DB_PORT free again" || fail "still bound:$busy"
[[ -n ${REC_TMP:-} ]] && rm -rf "$UAPI_RECORDINGS_DIR"

if [[ -n $CHROOT_STOPPED ]]; then
  step "Restoring the chroot PBX"
  PBX_MODE=chroot bash scripts/pbx.sh up 2>&1 | sed 's/^/[test-docker]    /'
  ((PIPESTATUS[0] == 0)) && ok "chroot PBX up again" || fail "could not restore the chroot PBX"
  CHROOT_STOPPED=
fi
# Still under the lock: with the dockerd this run started stopped, pbx.sh must be back to choosing
# the chroot PBX for everyone, and say why.
if [[ -n $WE_STARTED_DOCKERD && -z ${KEEP_DOCKERD:-} ]]; then
  step "Stopping the dockerd this run started (KEEP_DOCKERD=1 keeps it)"
  dpid=$(cat "$DOCKERD_PID")
  kill "$dpid" 2>/dev/null
  for _ in $(seq 150); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done
  timeout 5 docker info >/dev/null 2>&1 && fail "dockerd still answers" || ok "dockerd stopped"
  rm -f "$DOCKERD_PID"
  WE_STARTED_DOCKERD=
  if [[ -n $(chroot_pbx_pids) ]]; then
    out=$(bash scripts/pbx.sh up 2>&1)
    [[ $out == *"mode: chroot (a docker CLI but no Docker engine answering)"* && $out == *"already up"* ]] &&
      ok "pbx.sh up: $(tr '\n' ' ' <<<"$out" | sed 's/\[pbx\] //g')" || fail "pbx.sh up without an engine: $out"
  fi
fi
exec 8>&-
LOCK_HELD=
info "PBX lock released after $((SECONDS - HOLD0)) s"
finish
