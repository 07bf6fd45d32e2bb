#!/usr/bin/env bash
# Benchmark (issue 20): a large estate on one controller. H test hosts × V VMs on this machine
# (which also runs every simulated host), then, ROUNDS times in a row:
#   plan (no changes) and apply (a memory change on every VM: vm.cfg + live mem-set), each with
#   the default --parallel and with --parallel P.
# Every run counts the hosts that failed (must be 0) and the controller's CPU time per host
# (user + system of domform itself, from getrusage of the child), besides wall time.
# Needs root (scripts/testhosts).
#
#   bench/fleet.sh [HOSTS=250] [VMS_PER_HOST=4]     P=64 ROUNDS=2 NET=187
#   bench/fleet.sh --ci                             3 hosts x 2 VMs, P=8, 1 round, debug build
set -euo pipefail
cd "$(dirname "$0")/.."
CI_MODE=0
if [[ ${1:-} == --ci ]]; then CI_MODE=1; shift; fi
if ((CI_MODE)); then
    H=3 V=2 P=${P:-8} ROUNDS=${ROUNDS:-1}
else
    H=${1:-250} V=${2:-4} P=${P:-64} ROUNDS=${ROUNDS:-2}
fi
NET=${NET:-187}
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_setup
t0=$(date +%s)
TESTHOSTS_TIMEOUT=300 scripts/testhosts up "$H" --dir "$DIR" --xm "$T/xm" --net "$NET" --memory 65536 --disk-size 300M >/dev/null
up_secs=$(($(date +%s) - t0))

estate() { # estate MEMORY_MIB: the YAML for every host
    {
        echo "vms:"
        for i in $(seq 1 "$H"); do
            for j in $(seq 1 "$V"); do
                printf '  vm-h%s-%d: { host: h%s, memory: %sMiB, vcpus: 1, disks: [ { name: system, size: 64MiB } ] }\n' \
                    "$i" "$j" "$i" "$1"
            done
        done
    } >"$DIR/estate/vms.yaml"
}
mkdir -p "$DIR/estate"
cp "$DIR/hosts.yaml" "$DIR/estate/"

# run NAME ARGS...: runs domform, records wall, CPU, exit code and failed hosts.
ROWS=()
FAILED_TOTAL=0
run() {
    local name="$1"
    shift
    python3 - "$DIR/out.log" "$BIN" "$@" >"$DIR/usage" <<'PY'
import resource, subprocess, sys, time
log, argv = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
with open(log, "w") as f:
    rc = subprocess.call(argv, stdout=f, stderr=subprocess.STDOUT)
wall = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(rc, f"{wall:.2f}", f"{ru.ru_utime + ru.ru_stime:.2f}")
PY
    local rc wall cpu failed
    read -r rc wall cpu <"$DIR/usage"
    # A failed host is named in an `error:` line (plan) or a host report with an error (apply).
    failed=$(set +o pipefail; grep -E '^error: ' "$DIR/out.log" | grep -oE '\bh[0-9]+\b' | sort -u | wc -l)
    local ok=1
    case "$name" in
        plan*) [[ $rc == 0 ]] || ok=0 ;;
        apply*) [[ $rc == 0 ]] && grep -q "Apply complete" "$DIR/out.log" || ok=0 ;;
    esac
    if ((!ok)) && ((failed == 0)); then failed="?"; fi
    if [[ $failed != 0 ]]; then
        FAILED_TOTAL=$((FAILED_TOTAL + 1))
        echo "$name: exit $rc, failed hosts: $failed" >&2
        grep -E '^error: ' "$DIR/out.log" | head -5 >&2 || tail -5 "$DIR/out.log" >&2
    fi
    local per_host
    per_host=$(awk -v c="$cpu" -v h="$H" 'BEGIN { printf "%.1f", c * 1000 / h }')
    ROWS+=("| $name | ${wall} s | ${cpu} s | ${per_host} ms | $failed |")
}

estate 256
run "apply, first (default --parallel)" apply -f "$DIR/estate" --auto-approve
mem=256
for r in $(seq 1 "$ROUNDS"); do
    run "round $r: plan, no changes (default)" plan -f "$DIR/estate"
    run "round $r: plan, no changes (--parallel $P)" plan -f "$DIR/estate" --parallel "$P"
    mem=$((mem + 32)); estate "$mem"
    run "round $r: apply, memory of $((H * V)) VMs (default)" apply -f "$DIR/estate" --auto-approve
    mem=$((mem + 32)); estate "$mem"
    run "round $r: apply, memory of $((H * V)) VMs (--parallel $P)" apply -f "$DIR/estate" --auto-approve --parallel "$P"
    run "round $r: plan after apply (--parallel $P)" plan -f "$DIR/estate" --parallel "$P" --detailed-exitcode
done

cmd="bench/fleet.sh"
((CI_MODE)) && cmd+=" --ci" || cmd+=" $H $V"
printf '`%s` (%s hosts × %s VMs, --parallel default and %s, %s round(s), %s CPUs; test hosts up in %s s)\n\n' \
    "$cmd" "$H" "$V" "$P" "$ROUNDS" "$(nproc)" "$up_secs"
printf '| run | wall | controller CPU | CPU per host | failed hosts |\n|---|---|---|---|---|\n'
printf '%s\n' "${ROWS[@]}"
if ((FAILED_TOTAL > 0)); then
    echo "$FAILED_TOTAL run(s) had failed hosts" >&2
    exit 1
fi
