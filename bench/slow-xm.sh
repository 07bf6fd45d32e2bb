#!/usr/bin/env bash
# Benchmark (issue 13 item 4): the no-op plan when xend is slow. Every `xm` call on every test
# host sleeps DELAY seconds first (the simulator's per-call delay, crates/xmsim/src/pace.rs), as
# real xm does on a busy Oracle VM Server. Measured in the same run, interleaved:
#   domform  `domform plan` on the converged hosts (one exec per host; its xm calls run side by side)
#   floor    the fastest read of the same facts: one plain OpenSSH exec per host (no ControlMaster),
#            all hosts in parallel, the same xm calls started together, the vm.cfg files and disk
#            sizes read while they run
#   serial   the same exec with the xm calls one after the other (what a naive script pays)
# Target: domform <= 1.5x the floor. Needs root (scripts/testhosts).
#
#   bench/slow-xm.sh [HOSTS=10] [VMS_PER_HOST=50]    DELAY=1 RUNS=5 NET=189
#   bench/slow-xm.sh --ci                            2 hosts x 5 VMs, DELAY=0.5, 1 run, debug build:
#                                                    checks it runs, converges and uses 1 exec/host
set -euo pipefail
cd "$(dirname "$0")/.."
CI_MODE=0
if [[ ${1:-} == --ci ]]; then CI_MODE=1; shift; fi
if ((CI_MODE)); then
    H=2 V=5 DELAY=${DELAY:-0.5} RUNS=${RUNS:-1}
else
    H=${1:-10} V=${2:-50} DELAY=${DELAY:-1} RUNS=${RUNS:-5}
fi
NET=${NET:-189}
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_setup
scripts/testhosts up "$H" --dir "$DIR" --xm "$T/xm" --net "$NET" --memory 1048576 --disk-size 2G >/dev/null

# The estate: V VMs per host, each with a vm.cfg and one sparse disk, pinned, running.
{
    echo "vms:"
    for i in $(seq 1 "$H"); do
        for j in $(seq 1 "$V"); do
            printf '  vm-h%s-%03d:\n    host: h%s\n    memory: 256MiB\n    vcpus: 2\n    cpus: "2-3"\n' "$i" "$j" "$i"
            printf '    disks:\n      - { name: system, size: 1GiB }\n'
            printf '    networks: [{ bridge: xenbr0, mac: "00:21:f6:%02x:%02x:%02x" }]\n' "$i" $((j / 256)) $((j % 256))
        done
    done
} >"$DIR/vms.yaml"
mkdir -p "$DIR/estate"
cp "$DIR/hosts.yaml" "$DIR/vms.yaml" "$DIR/estate/"

# Converge while xend is fast, then slow every host down.
$BIN apply -f "$DIR/estate" --auto-approve >"$DIR/apply.log" 2>&1 || { tail -5 "$DIR/apply.log"; exit 1; }
for i in $(seq 1 "$H"); do
    scripts/testhosts exec --dir "$DIR" "$i" -- sh -c "echo $DELAY > /var/lib/xmsim/delay"
done
$BIN plan -f "$DIR/estate" --detailed-exitcode >"$DIR/plan.log" 2>&1 || { cat "$DIR/plan.log"; echo "the slow plan is not empty" >&2; exit 1; }

repo_of() { awk -v h="  h$1:" '$0==h{f=1} f&&/repository:/{print $2; exit}' "$DIR/hosts.yaml"; }
addr_of() { awk -v h="  h$1:" '$0==h{f=1} f&&/address:/{print $2; exit}' "$DIR/hosts.yaml"; }
SSH=(ssh -F /dev/null -i "$DIR/id_ed25519" -o UserKnownHostsFile="$DIR/known_hosts" -o StrictHostKeyChecking=yes
    -o BatchMode=yes -o ControlMaster=no -o ControlPath=none -o LogLevel=ERROR)
now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# read_script I MODE: one exec's script for host I; MODE together|serial.
read_script() {
    local r
    r=$(repo_of "$1")
    if [[ $2 == together ]]; then
        echo "d=\$(mktemp -d); xm info -n >\$d/1 2>&1 & xm list -l >\$d/2 2>&1 & cat $r/VirtualMachines/*/vm.cfg; find $r/VirtualDisks -maxdepth 1 -type f -printf '%s %b %p\n'; wait; cat \$d/1 \$d/2; rm -rf \$d"
    else
        echo "xm info -n; xm list -l; cat $r/VirtualMachines/*/vm.cfg; find $r/VirtualDisks -maxdepth 1 -type f -printf '%s %b %p\n'"
    fi
}
read_all() {
    local i
    for i in $(seq 1 "$H"); do
        "${SSH[@]}" "root@$(addr_of "$i")" "$(read_script "$i" "$1")" >"$DIR/floor.$i" 2>&1 &
    done
    wait
    for i in $(seq 1 "$H"); do
        grep -q '^(domain' "$DIR/floor.$i" || { echo "the $1 read of h$i printed no domains" >&2; exit 1; }
    done
}

plan_t=() floor_t=() serial_t=()
for _ in $(seq 1 "$RUNS"); do
    t0=$(now); $BIN plan -f "$DIR/estate" --detailed-exitcode >/dev/null; t1=$(now); plan_t+=("$(sub "$t1" "$t0")")
    t0=$(now); read_all together; t1=$(now); floor_t+=("$(sub "$t1" "$t0")")
    t0=$(now); read_all serial; t1=$(now); serial_t+=("$(sub "$t1" "$t0")")
done
p=$(printf '%s\n' "${plan_t[@]}" | median)
f=$(printf '%s\n' "${floor_t[@]}" | median)
sr=$(printf '%s\n' "${serial_t[@]}" | median)
execs=$($BIN -vv plan -f "$DIR/estate" 2>&1 >/dev/null | grep -c "observed execs=1$" || true)
ratio=$(awk -v a="$p" -v b="$f" 'BEGIN { printf "%.2f", a / b }')
((execs == H)) || { echo "expected 1 exec on each of $H hosts, saw $execs" >&2; exit 1; }

cmd="bench/slow-xm.sh"
((CI_MODE)) && cmd+=" --ci" || cmd+=" $H $V"
printf '`%s` (DELAY=%s s per xm call, median of %s runs, %s CPUs)\n\n' "$cmd" "$DELAY" "$RUNS" "$(nproc)"
printf '| read of every host | hosts x VMs | seconds | SSH execs per host | vs floor |\n|---|---|---|---|---|\n'
printf '| domform plan (no changes) | %sx%s | %s s | 1 (%s/%s hosts) | %sx |\n' "$H" "$V" "$p" "$execs" "$H" "$ratio"
printf '| floor: 1 OpenSSH exec/host, xm calls side by side | %sx%s | %s s | 1 | 1.00x |\n' "$H" "$V" "$f"
printf '| 1 OpenSSH exec/host, xm calls one after the other | %sx%s | %s s | 1 | %sx |\n' "$H" "$V" "$sr" \
    "$(awk -v a="$sr" -v b="$f" 'BEGIN { printf "%.2f", a / b }')"
if ((!CI_MODE)) && awk -v r="$ratio" 'BEGIN { exit !(r > 1.5) }'; then
    echo "domform is ${ratio}x the floor: over the 1.5x target" >&2
    exit 1
fi
