#!/bin/bash
# profile-front.sh shows where sagekit's serving front spends its CPU time
# under load, the profile behind docs/benchmarks.md's "Serving front
# profile" section.
#
#   go run ./bench/serving -keep -quick -only worker-noop    # prints its run directory
#   go build -o /tmp/sagekit-runtime ./runtime/cmd/sagekit-runtime   # with symbols
#   bench/serving/profile-front.sh RUNDIR /tmp/sagekit-runtime noop 16 8
#
# It starts worker mode on RUNDIR's predictor (noop or tree) with 2 workers,
# as the benchmark does, warms it up, then runs wrk with CONNS connections
# of the 1-row payload for SECONDS twice: once under `perf stat` (system
# calls and context switches of the front, per request) and once under
# `perf record -g` (the front's CPU samples, by the function they were
# spent under). Needs perf, wrk and root (or perf_event_paranoid <= 0).
# SAGEKIT_HTTP_SERVER=net/http profiles the front on Go's net/http instead
# of its own connection loop.
set -eu
if [ $# -ne 5 ]; then
	echo "usage: $0 RUNDIR SAGEKIT_RUNTIME noop|tree CONNS SECONDS" >&2
	exit 2
fi
dir=$1 bin=$2 pred=$3 conns=$4 secs=$5
out=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
cd "$dir/$pred"
env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="$dir" LANG=C.UTF-8 \
	PYTHONUNBUFFERED=TRUE PYTHONDONTWRITEBYTECODE=TRUE SAGEMAKER_BASE_DIR="$dir/ml" \
	SAGEKIT_WSGI_APP=predictor:app SAGEKIT_PYTHON=/usr/bin/python3 SAGEMAKER_MODEL_SERVER_WORKERS=2 \
	SAGEMAKER_MODEL_SERVER_TIMEOUT=60 SAGEMAKER_BIND_TO_PORT=$port SAGEKIT_HTTP_SERVER=${SAGEKIT_HTTP_SERVER:-sagekit} \
	setsid "$bin" serve >"$out/output.log" 2>&1 &
pid=$!
# PROFILE_KEEP=DIR keeps perf.data there, for perf report.
trap 'kill -TERM -- -$pid 2>/dev/null; wait $pid 2>/dev/null; [ -n "${PROFILE_KEEP:-}" ] && cp "$out/perf.data" "$PROFILE_KEEP/"; rm -rf "$out"' EXIT
for _ in $(seq 200); do curl -sf "127.0.0.1:$port/ping" >/dev/null && break; sleep 0.05; done
load() { wrk -t1 -c"$conns" -d"$1" -s "$dir/wrk-body-16.lua" "http://127.0.0.1:$port/invocations"; }
requests() { awk '/requests in/ {print $1}' "$1"; }
load 2s >/dev/null

# CPU time (ticks) of a process and of all its descendants.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
descendants() { for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done; }
workers() { local t=0; for c in $(descendants "$pid"); do t=$((t + $(ticks "$c"))); done; echo $t; }

f0=$(ticks $pid) w0=$(workers)
perf stat -x, -e raw_syscalls:sys_enter,context-switches -p $pid -o "$out/stat" -- sleep "$secs" &
load "${secs}s" >"$out/wrk.stat"
wait $!
f1=$(ticks $pid) w1=$(workers)
n=$(requests "$out/wrk.stat")
hz=$(getconf CLK_TCK)
echo "$pred, $conns connections: $(awk '/Requests\/sec/ {print $2}' "$out/wrk.stat") requests/s"
awk -v f=$((f1 - f0)) -v w=$((w1 - w0)) -v hz="$hz" -v n="$n" 'BEGIN {
	printf "CPU per request: front %.0f µs, workers %.0f µs\n", f * 1e6 / hz / n, w * 1e6 / hz / n }'
awk -F, -v n="$n" '/raw_syscalls/ {s = $1} /context-switches/ {c = $1}
	END {printf "front per request: %.2f system calls, %.2f context switches\n", s / n, c / n}' "$out/stat"

perf record -F 2000 -g -p $pid -o "$out/perf.data" -- sleep "$secs" >/dev/null 2>&1 &
load "${secs}s" >/dev/null
wait $!
# Inclusive shares of the front's samples, by where they were spent.
perf report -i "$out/perf.data" --children --sort symbol --stdio -g none 2>/dev/null |
	awk '$1 ~ /%$/ {print $1, $4}' >"$out/children"
echo
echo "share of the front's CPU samples (inclusive; the rows overlap):"
while IFS='|' read -r sym label; do
	v=$(awk -v s="$sym" '$2 == s {print $1; exit}' "$out/children")
	printf "  %7s  %s\n" "${v:-0%}" "$label"
done <<'ROWS'
net/http.(*conn).serve|net/http connection goroutines: everything a request does
net/http.(*response).finishRequest|  writing the answer to the client (the TCP write and its wake-up)
net/http.(*conn).readRequest|  reading and parsing the request
net/http.(*connReader).backgroundRead|  net/http's background read for client disconnects
github.com/sagekit/sagekit/serving/internal/h1.(*conn).serve|the front's connection loop: everything a request does
github.com/sagekit/sagekit/serving/internal/h1.(*response).finish|  writing the answer to the client (the TCP write and its wake-up)
github.com/sagekit/sagekit/serving/internal/h1.(*conn).readHead|  reading the request (and waiting for the next)
github.com/sagekit/sagekit/serving/internal/h1.(*conn).prepare|  the request's fields and header map
github.com/sagekit/sagekit/serving.(*Server).invoke|  sagekit's /invocations handler
github.com/sagekit/sagekit/serving.(*Server).call|    the worker exchange (write to the worker, wait, read its answer)
github.com/sagekit/sagekit/serving.(*Server).takeSlot|    waiting for a worker slot
github.com/sagekit/sagekit/serving.(*Server).observe|    access log and metrics
context.WithTimeout|    the request's timeout context
runtime.findRunnable|runtime scheduler looking for work (idle: blocking in epoll)
runtime.netpoll|  epoll
runtime.sysmon|runtime monitor thread
runtime.usleep.abi0|  its 20 µs to 10 ms sleeps
runtime.futex.abi0|futex: threads handing the processor over or waking each other
runtime.mallocgc|allocation
runtime.gcBgMarkWorker|garbage collector
ROWS
