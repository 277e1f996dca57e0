#!/bin/sh
# The compose deployment, brought up and used on one machine without Docker Hub: a Debian 12
# base made with debootstrap from a Debian mirror and `docker import`ed, the server binary built
# on the host (deploy/fleet/Dockerfile.prebuilt), Debian's redis-server standing in for the
# redis:7 image. Then: the README's request through the API with a key, a Redis restart, a
# drain of the agent. Everything listens on loopback only; `down -v` at the end.
#
#   sudo deploy/fleet/offline-smoke.sh [path to a jouletrace-server binary]
#
# Needs: dockerd running, docker-compose (v1 1.29 or v2), debootstrap, curl, python3. Docker
# Engine 20.10 does not know CAP_PERFMON: the agent gets JOULETRACE_AGENT_CAP (SYS_ADMIN by
# default here, see docs/service-fleet.md).
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$repo/target/release/jouletrace-server}
work=${WORK:-$(mktemp -d)}
port=${PORT:-18000}
mirror=${MIRROR:-http://deb.debian.org/debian}

if ! docker image inspect jouletrace-local/bookworm:base >/dev/null 2>&1; then
  debootstrap --variant=minbase --include=python3,curl,ca-certificates,redis-server \
    bookworm "$work/rootfs" "$mirror"
  tar -C "$work/rootfs" -c . | docker import - jouletrace-local/bookworm:base
fi
mkdir -p "$work/ctx"
[ "$bin" -ef "$work/ctx/jouletrace-server" ] || cp "$bin" "$work/ctx/jouletrace-server"
strip "$work/ctx/jouletrace-server" 2>/dev/null || true
docker build -f "$repo/deploy/fleet/Dockerfile.prebuilt" \
  --build-arg BASE=jouletrace-local/bookworm:base -t jouletrace-server:local "$work/ctx"

cat > "$work/local.yml" <<'YML'
services:
  redis:
    image: jouletrace-local/bookworm:base
YML
key=smoke-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
REDIS_PASSWORD=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
JOULETRACE_API_KEYS=$(printf %s "$key" | "$bin" hash-key --id smoke)
JOULETRACE_PUBLISH=127.0.0.1:$port
JOULETRACE_AGENT_CPUS=${JOULETRACE_AGENT_CPUS:-1}
JOULETRACE_AGENT_CAP=${JOULETRACE_AGENT_CAP:-SYS_ADMIN}
export REDIS_PASSWORD JOULETRACE_API_KEYS JOULETRACE_PUBLISH JOULETRACE_AGENT_CPUS JOULETRACE_AGENT_CAP
touch /tmp/jouletrace-measure.lock
dc="docker-compose -p jouletrace-smoke -f $repo/docker-compose.yml -f $work/local.yml"
trap '$dc down -v >/dev/null 2>&1 || true' EXIT
$dc up -d --no-build

api=http://127.0.0.1:$port
for _ in $(seq 60); do curl -fsS "$api/ping" >/dev/null 2>&1 && break; sleep 1; done
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'content-type: application/json' \
  -d '{}' "$api/api/v1/measure")
[ "$code" = 401 ] || { echo "a request without a key got $code, not 401"; exit 1; }
task=$(curl -fsS -X POST -H "X-API-Key: $key" -H 'content-type: application/json' \
  -d '{"candidate_code": "def solve(a, b):\n    m = sorted(a + b)\n    n = len(m)\n    return (m[n//2-1] + m[n//2]) / 2.0 if n % 2 == 0 else float(m[n//2])",
       "test_cases": [{"inputs": [[1, 3], [2, 4]], "expected_output": 2.5, "test_id": "test_001"},
                      {"inputs": [[1, 2], [3, 4]], "expected_output": 2.5, "test_id": "test_002"}]}' \
  "$api/api/v1/measure" | python3 -c 'import json, sys; print(json.load(sys.stdin)["task_id"])')
status=""
for _ in $(seq 90); do
  status=$(curl -fsS -H "X-API-Key: $key" "$api/api/v1/tasks/$task" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])')
  [ "$status" = completed ] || [ "$status" = failed ] && break
  sleep 2
done
curl -fsS -H "X-API-Key: $key" "$api/api/v1/tasks/$task" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("task", r["task_id"], r["status"], "on", r.get("agent_id"))
print("host class", r.get("host_class"))
print("energy (one pass)", (r.get("energy_metrics") or {}).get("median_total_energy_joules"), r.get("provenance"))'
[ "$status" = completed ]
$dc restart redis
for _ in $(seq 30); do curl -fsS -H "X-API-Key: $key" "$api/api/v1/tasks/$task" >/dev/null 2>&1 && break; sleep 1; done
curl -fsS -H "X-API-Key: $key" "$api/api/v1/tasks/$task" | grep -q '"status":"completed"'
echo "the result survived a Redis restart"
$dc stop agent
docker logs jouletrace-smoke_agent_1 2>&1 | grep -q "agent left the fleet"
echo "the agent drained and left on stop: compose smoke test passed"
