#!/usr/bin/env bash
# Benchmark: `domform list` on H test hosts x V VMs, against the floor measured in the same run:
# one plain OpenSSH exec per host, all hosts in parallel, printing the same facts
# (`xm info -n`, `xm list -l`, every vm.cfg). Needs root (scripts/testhosts).
#
#   bench/list.sh [HOSTS=10] [VMS_PER_HOST=20]      RUNS=7 by default
#   bench/list.sh --ci                              2 hosts x 3 VMs, 1 run, debug build (CI smoke)
set -euo pipefail
cd "$(dirname "$0")/.."
CI_MODE=0
if [[ ${1:-} == --ci ]]; then CI_MODE=1; shift; fi
if ((CI_MODE)); then
    # A smoke run so the script cannot rot: debug build, tiny sizes, one run.
    H=2 V=3 RUNS=1
else
    H=${1:-10}
    V=${2:-20}
    RUNS=${RUNS:-7}
fi
NET=${NET:-190}
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_setup
scripts/testhosts up "$H" --dir "$DIR" --xm "$T/xm" --net "$NET" --memory 1048576 >/dev/null

repo_of() { awk -v h="  h$1:" '$0==h{f=1} f&&/repository:/{print $2; exit}' "$DIR/hosts.yaml"; }
addr_of() { awk -v h="  h$1:" '$0==h{f=1} f&&/address:/{print $2; exit}' "$DIR/hosts.yaml"; }
SSH=(ssh -i "$DIR/id_ed25519" -o UserKnownHostsFile="$DIR/known_hosts" -o StrictHostKeyChecking=yes -o BatchMode=yes)

echo "creating $V VMs on each of $H hosts..." >&2
for i in $(seq 1 "$H"); do
    repo=$(repo_of "$i")
    "${SSH[@]}" "root@$(addr_of "$i")" "for v in \$(seq -w 1 $V); do
        id=0004fb00000600$(printf '%02x' "$i")\$(printf '%016x' \$((10#\$v)))
        d=$repo/VirtualMachines/\$id; mkdir -p \$d; truncate -s 1G $repo/VirtualDisks/\$id.img
        printf \"name = '%s'\nOVM_simple_name = 'vm%s'\nmemory = 512\nvcpus = 2\ncpus = '2-3'\ndisk = ['file:$repo/VirtualDisks/%s.img,xvda,w']\nvif = ['mac=00:21:f6:00:%02x:%02x,bridge=xenbr0']\n\" \$id \$v \$id $i \$((10#\$v)) > \$d/vm.cfg
        xm create -q \$d/vm.cfg >/dev/null
    done" &
done
wait

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }

floor_once() {
    for i in $(seq 1 "$H"); do
        repo=$(repo_of "$i")
        "${SSH[@]}" "root@$(addr_of "$i")" "xm info -n; xm list -l; cat $repo/VirtualMachines/*/vm.cfg" >/dev/null &
    done
    wait
}

domform_times=() floor_times=()
rows=$("$T/domform" list -f "$DIR/hosts.yaml" | tail -n +2 | wc -l)
for _ in $(seq 1 "$RUNS"); do
    t0=$(now); "$T/domform" list -f "$DIR/hosts.yaml" >/dev/null; t1=$(now)
    domform_times+=("$(echo "$t1 - $t0" | bc)")
    t0=$(now); floor_once; t1=$(now)
    floor_times+=("$(echo "$t1 - $t0" | bc)")
done
execs=$("$T/domform" -vv list -f "$DIR/hosts.yaml" 2>&1 >/dev/null | grep -c "observed execs=1" || true)
d=$(printf '%s\n' "${domform_times[@]}" | median)
f=$(printf '%s\n' "${floor_times[@]}" | median)
rss=$( { /usr/bin/time -f '%M' "$T/domform" list -f "$DIR/hosts.yaml" >/dev/null; } 2>&1 | tail -n 1)
printf '| hosts | VMs/host | rows listed | domform list (median of %s) | floor: 1 OpenSSH exec/host | ratio | hosts observed with 1 exec | peak RSS |\n' "$RUNS"
printf '|---|---|---|---|---|---|---|---|\n'
printf '| %s | %s | %s | %.3f s | %.3f s | %.2fx | %s/%s | %s KiB |\n' "$H" "$V" "$rows" "$d" "$f" "$(echo "$d / $f" | bc -l)" "$execs" "$H" "$rss"
