#!/usr/bin/env bash
# Installs and starts what fixbot needs on this machine, and nothing that already works.
#   scripts/bootstrap.sh [docker] [redis] [postgres]
# Python deps go into ./.venv. When Docker, Redis or PostgreSQL is not reachable and we are root on
# a Debian-like system, the Debian packages are installed and the daemons started in the
# background on loopback; otherwise we stop with a message saying what to start.
# PostgreSQL (the shared checkpointer's tests): a login role fixbot/fixbot that may create databases,
# reached at POSTGRES_URL (default postgresql://fixbot:fixbot@127.0.0.1:5432/postgres).
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
    postgres)
      pg_url=${POSTGRES_URL:-postgresql://fixbot:fixbot@127.0.0.1:5432/postgres}
      if ! .venv/bin/python -c "import psycopg,sys; psycopg.connect(sys.argv[1], connect_timeout=3).close()" "$pg_url" 2>/dev/null; then
        if [ -n "${POSTGRES_URL:-}" ]; then
          log "PostgreSQL is not reachable at POSTGRES_URL; start it or unset POSTGRES_URL to use a local server"
          exit 1
        fi
        if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
          need_apt PostgreSQL "start a PostgreSQL server and set POSTGRES_URL"
          log "installing postgresql"
          DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        fi
        [ "$(id -u)" = 0 ] || { log "PostgreSQL is not running and only root can start it here: set POSTGRES_URL"; exit 1; }
        version=$(ls /usr/lib/postgresql | sort -V | tail -1)
        if ! pg_lsclusters -h 2>/dev/null | grep -q "^$version main"; then
          pg_createcluster "$version" main >/dev/null
        fi
        log "starting PostgreSQL $version on 127.0.0.1:5432"
        pg_ctlcluster "$version" main start 2>/dev/null || true
        for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
        su postgres -c "psql -q -v ON_ERROR_STOP=1" >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fixbot') THEN
    CREATE ROLE fixbot LOGIN CREATEDB PASSWORD 'fixbot';
  END IF;
END $$;
SQL
      fi
      ;;
    *) log "unknown component $want"; exit 2 ;;
  esac
done
