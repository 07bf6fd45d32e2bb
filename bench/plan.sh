#!/usr/bin/env bash
# Benchmarks for plan/apply on real sshd test hosts (needs root):
#  1. first apply of H hosts x V VMs (each VM: vm.cfg, 1 sparse disk, pinned, running),
#  2. no-op plan on the converged hosts vs the floor measured in the same run: one plain
#     OpenSSH exec per host, all hosts in parallel, printing the same facts,
#  3. one VM with 100 new disks on one host: apply time and SSH execs.
#
#   bench/plan.sh [HOSTS=10] [VMS_PER_HOST=50]      RUNS=7 by default
#   bench/plan.sh --ci                              2 hosts x 3 VMs, 1 run, debug build (CI smoke)
set -euo pipefail
cd "$(dirname "$0")/.."
CI_MODE=0
if [[ ${1:-} == --ci ]]; then CI_MODE=1; shift; fi
if ((CI_MODE)); then
    # A smoke run so the script cannot rot: debug build, tiny sizes, one run.
    H=2 V=3 RUNS=1
else
    H=${1:-10}
    V=${2:-50}
    RUNS=${RUNS:-7}
fi
NET=${NET:-191}
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_setup
scripts/testhosts up "$H" --dir "$DIR" --xm "$T/xm" --net "$NET" --memory 1048576 --disk-size 2G >/dev/null

python3 - "$DIR" "$H" "$V" <<'PY'
import sys, re
d, h, v = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
hosts = open(f"{d}/hosts.yaml").read()
out = ["vms:"]
for i in range(1, h + 1):
    for j in range(1, v + 1):
        out += [f"  vm-h{i}-{j:03d}:", f"    host: h{i}", "    memory: 256MiB", "    vcpus: 2", '    cpus: "2-3"',
                "    disks:", "      - { name: system, size: 1GiB }",
                f'    networks: [{{ bridge: xenbr0, mac: "00:21:f6:{i:02x}:{j // 256:02x}:{j % 256:02x}" }}]']
open(f"{d}/vms.yaml", "w").write("\n".join(out) + "\n")
big = ["vms:", "  bulk:", "    host: h1", "    state: stopped", "    memory: 512MiB", "    vcpus: 1",
       "    disks:", '      - { name: "lun{001..100}", size: 1GiB }']
open(f"{d}/bulk.yaml", "w").write("\n".join(big) + "\n")
PY
mkdir -p "$DIR/estate" "$DIR/bulk"
cp "$DIR/hosts.yaml" "$DIR/estate/"; cp "$DIR/vms.yaml" "$DIR/estate/"
cp "$DIR/hosts.yaml" "$DIR/bulk/"; cp "$DIR/bulk.yaml" "$DIR/bulk/"

repo_of() { awk -v h="  h$1:" '$0==h{f=1} f&&/repository:/{print $2; exit}' "$DIR/hosts.yaml"; }
addr_of() { awk -v h="  h$1:" '$0==h{f=1} f&&/address:/{print $2; exit}' "$DIR/hosts.yaml"; }
SSH=(ssh -i "$DIR/id_ed25519" -o UserKnownHostsFile="$DIR/known_hosts" -o StrictHostKeyChecking=yes -o BatchMode=yes)
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
floor_once() {
    for i in $(seq 1 "$H"); do
        "${SSH[@]}" "root@$(addr_of "$i")" "xm info -n; xm list -l; cat $(repo_of "$i")/VirtualMachines/*/vm.cfg; find $(repo_of "$i")/VirtualDisks -printf '%s %b %p\n'" >/dev/null &
    done
    wait
}

t0=$(now); $BIN apply -f "$DIR/estate" --auto-approve >"$DIR/apply.log" 2>&1; t1=$(now)
first_apply=$(echo "$t1 - $t0" | bc)
grep -qE "^Apply complete: [0-9]+ done, 0 failed, 0 not run" "$DIR/apply.log" || { tail -5 "$DIR/apply.log"; echo "first apply failed" >&2; exit 1; }
$BIN plan -f "$DIR/estate" --detailed-exitcode >/dev/null || { echo "plan after apply is not empty" >&2; exit 1; }

plan_times=() floor_times=()
for _ in $(seq 1 "$RUNS"); do
    t0=$(now); $BIN plan -f "$DIR/estate" >/dev/null; t1=$(now); plan_times+=("$(echo "$t1 - $t0" | bc)")
    t0=$(now); floor_once; t1=$(now); floor_times+=("$(echo "$t1 - $t0" | bc)")
done
p=$(printf '%s\n' "${plan_times[@]}" | median)
f=$(printf '%s\n' "${floor_times[@]}" | median)
execs=$($BIN -vv plan -f "$DIR/estate" 2>&1 >/dev/null | grep -c "observed execs=1" || true)
rss=$( { /usr/bin/time -f '%M' $BIN plan -f "$DIR/estate" >/dev/null; } 2>&1 | tail -n 1)

t0=$(now); $BIN apply -f "$DIR/bulk" --limit h1 --auto-approve >"$DIR/bulk.log" 2>&1; t1=$(now)
bulk=$(echo "$t1 - $t0" | bc)
bulk_execs=$(grep -o 'Host h1 ([0-9]* exec' "$DIR/bulk.log" | sed 's/.*(\([0-9]*\) exec/\1/' | head -1)
made=$("${SSH[@]}" "root@$(addr_of 1)" "ls $(repo_of 1)/VirtualDisks | grep -c '^bulk_lun'")

printf '| scenario | hosts x VMs | domform | floor (1 OpenSSH exec/host, same run) | ratio | SSH execs per host | peak RSS |\n|---|---|---|---|---|---|---|\n'
printf '| first apply (create + start, %s changes) | %sx%s | %.2f s | - | - | 2 (lock+observe, batch) | - |\n' "$((H * V * 3))" "$H" "$V" "$first_apply"
printf '| no-op plan (median of %s) | %sx%s | %.3f s | %.3f s | %.2fx | 1 (%s/%s hosts) | %s KiB |\n' "$RUNS" "$H" "$V" "$p" "$f" "$(echo "$p / $f" | bc -l)" "$execs" "$H" "$rss"
printf '| apply: 1 VM with 100 new disks | 1x1 | %.3f s (made %s disks) | - | - | %s for the batch + 1 lock/observe | - |\n' "$bulk" "$made" "$bulk_execs"
