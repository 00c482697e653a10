#!/usr/bin/env bash
# There is no Docker engine on our machines, so CI runs the Dockerfile's steps by hand, in a clean
# copy of exactly what the image gets (pyproject.toml, README.md, the four packages, corpus/):
# venv + `pip install torch==2.13.0` (CPU wheel) + `pip install .`, `aihub-qa build` (which converts the
# e5-small model into the image's model cache), `aihub-qa serve`, then the HEALTHCHECK.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
app="$(mktemp -d)"
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$app"' EXIT

cp -r "$root/pyproject.toml" "$root/README.md" "$root/ingest" "$root/index" "$root/service" "$root/eval" "$root/corpus" "$app/"
cd "$app"
export AIHUB_QA_MODEL_CACHE="$app/var/models"  # as the Dockerfile's ENV
python3 -m venv .venv && .venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
.venv/bin/pip install -q --disable-pip-version-check .
.venv/bin/aihub-qa build
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
.venv/bin/aihub-qa serve --host 127.0.0.1 --port "$port" & pid=$!
for _ in $(seq 1 60); do
  if python3 -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:$port/readyz', timeout=4).status == 200 else 1)" 2>/dev/null; then
    python3 -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=4).status == 200 else 1)"
    echo "docker steps: installed, built, served and healthy on port $port"
    exit 0
  fi
  sleep 1
done
echo "docker steps: the service did not become ready within 60 s" >&2
exit 1
