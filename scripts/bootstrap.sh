#!/usr/bin/env bash
# Installs and starts what fixbot needs on this machine, and nothing that already works.
#   scripts/bootstrap.sh [docker] [redis]
# Python deps go into ./.venv. When Docker or Redis is not reachable and we are root on a
# Debian-like system, the Debian packages are installed and the daemons started in the
# background on loopback; otherwise we stop with a message saying what to start.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
log() { printf '[bootstrap] %s\n' "$*" >&2; }

need_apt() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    log "$1 is not running and I cannot install it here (need root and apt-get): $2"
    exit 1
  fi
  if [ -z "${APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
}

if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import agent, sandbox, chatbot, pytest" 2>/dev/null \
   || [ pyproject.toml -nt .venv/.fixbot-installed ]; then
  log "installing fixbot and its dependencies into .venv"
  .venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
  touch .venv/.fixbot-installed
fi

for want in "$@"; do
  case "$want" in
    redis)
      if ! .venv/bin/python -c "import redis,os; redis.Redis.from_url(os.environ.get('REDIS_URL','redis://127.0.0.1:6379/0'), socket_timeout=2).ping()" 2>/dev/null; then
        if ! command -v redis-server >/dev/null; then
          need_apt Redis "start a Redis server and set REDIS_URL"
          log "installing redis-server"
          DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
        fi
        log "starting redis-server on 127.0.0.1:6379"
        redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save '' --appendonly no >/dev/null
        for _ in $(seq 50); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.1; done
      fi
      ;;
    docker)
      if ! docker info >/dev/null 2>&1; then
        if ! command -v dockerd >/dev/null; then
          need_apt Docker "start Docker (Docker Desktop, or 'sudo systemctl start docker')"
          log "installing docker.io"
          DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
        fi
        log "starting dockerd in the background (log: /var/log/fixbot-dockerd.log)"
        nohup dockerd >/var/log/fixbot-dockerd.log 2>&1 &
        for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
        docker info >/dev/null 2>&1 || { log "dockerd did not start; see /var/log/fixbot-dockerd.log"; exit 1; }
      fi
      image=$(.venv/bin/python -c "from agent.settings import get_settings; print(get_settings().sandbox_image)")
      # missing, or built by fixbot from an older recipe (the image carries a recipe label): (re)build it
      status=$(.venv/bin/python -c "import sys; from sandbox.image import image_status; print(image_status(sys.argv[1]))" "$image")
      if [ "$status" = missing ] || [ "$status" = stale ]; then
        if ! command -v mmdebstrap >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
          need_apt mmdebstrap "install mmdebstrap"
          DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
        fi
        log "building the sandbox image $image ($status)"
        .venv/bin/fixbot sandbox build-image --name "$image"
      fi
      ;;
    *) log "unknown component $want"; exit 2 ;;
  esac
done
