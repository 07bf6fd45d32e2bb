#!/usr/bin/env bash
# Benchmark (issue 17): the no-op plan of libvirt hosts (`toolstack: libvirt`) against the floor
# measured in the same run, interleaved:
#   domform   `domform plan --detailed-exitcode` on the converged hosts (must exit 0)
#   floor     the fastest read of the same facts: one plain OpenSSH exec per host (no
#             ControlMaster), all hosts in parallel, the domain names listed, then ONE virsh
#             process running every read (`virsh 'capabilities; list --all; dumpxml …; …'`, each
#             output closed by an `echo`), and the repository listing
#   per-read  the same exec with one virsh process per read (what domform's observe script did
#             until this benchmark, and what a plain shell script does)
# The estate, generated and applied by domform itself: DOMAINS domains on each of HOSTS libvirt
# test hosts (scripts/testhosts up --toolstack libvirt: a libvirtd + QEMU per host), each with one
# small sparse disk, one vCPU pinned to CPU 1, 64 or 128 MiB; RUNNING of them per host running
# (booted from a 1 MiB copy of the test boot sector, which sleeps in `hlt`), the rest `state:
# stopped`, so the guests do not swamp the two cores the hosts share. The CPU the running guests used while the
# plans were timed is measured and printed. Target: domform <= 1.5x the floor. Needs root.
#
#   bench/libvirt.sh [HOSTS=5] [DOMAINS=20]        RUNNING=2 RUNS=7 NET=188
#   bench/libvirt.sh --ci                          2 hosts x 3 domains, 1 running, 1 run, debug
set -euo pipefail
cd "$(dirname "$0")/.."
CI_MODE=0
if [[ ${1:-} == --ci ]]; then CI_MODE=1; shift; fi
if ((CI_MODE)); then
    H=2 V=3 RUNNING=${RUNNING:-1} RUNS=${RUNS:-1}
else
    H=${1:-5} V=${2:-20} RUNNING=${RUNNING:-2} RUNS=${RUNS:-7}
fi
((RUNNING <= V)) || RUNNING=$V
NET=${NET:-188}
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_setup
t0=$(date +%s.%N)
scripts/testhosts up "$H" --dir "$DIR" --toolstack libvirt --net "$NET" --disk-size 2G >/dev/null
up_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')

# The running guests boot the checked-in boot sector (tests/fixtures/libvirt/acpi-guest.hex),
# which sleeps in `hlt`: with a blank disk SeaBIOS keeps retrying the boot (about a third of a
# core per guest in a first version of this script). Each running guest gets its own copy (QEMU locks a disk it writes).
python3 - "$DIR/boot.img" <tests/fixtures/libvirt/acpi-guest.hex <<'PY'
import sys
out = bytearray()
for line in sys.stdin:
    for tok in line.split("#")[0].split():
        if tok.startswith("@"):
            out.extend(bytes(int(tok[1:]) - len(out)))
        else:
            out.append(int(tok, 16))
out.extend(bytes((1 << 20) - len(out)))
open(sys.argv[1], "wb").write(out)
PY
repo_of() { awk -v h="  h$1:" '$0==h{f=1} f&&/repository:/{print $2; exit}' "$DIR/hosts.yaml"; }
addr_of() { awk -v h="  h$1:" '$0==h{f=1} f&&/address:/{print $2; exit}' "$DIR/hosts.yaml"; }
for i in $(seq 1 "$H"); do
    for j in $(seq 1 "$RUNNING"); do
        scripts/testhosts exec --dir "$DIR" "$i" -- cp "$DIR/boot.img" "$(repo_of "$i")/VirtualDisks/boot-$j.img"
    done
done

# The estate: V domains per host, the first RUNNING of each host running.
{
    echo "vms:"
    for i in $(seq 1 "$H"); do
        for j in $(seq 1 "$V"); do
            printf '  lv-h%s-%03d:\n    host: h%s\n    memory: %sMiB\n    vcpus: 1\n    cpus: "1"\n' \
                "$i" "$j" "$i" $((64 * (1 + j % 2)))
            if ((j <= RUNNING)); then
                printf '    disks:\n      - { path: %s/VirtualDisks/boot-%s.img }\n' "$(repo_of "$i")" "$j"
            else
                printf '    state: stopped\n    disks:\n'
            fi
            printf '      - { name: system, size: 256MiB }\n'
        done
    done
} >"$DIR/vms.yaml"
mkdir -p "$DIR/estate"
cp "$DIR/hosts.yaml" "$DIR/vms.yaml" "$DIR/estate/"

now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

t0=$(now)
$BIN apply -f "$DIR/estate" --auto-approve >"$DIR/apply.log" 2>&1 || { tail -20 "$DIR/apply.log"; echo "first apply failed" >&2; exit 1; }
t1=$(now)
first_apply=$(sub "$t1" "$t0")
grep -qE "^Apply complete: [0-9]+ done, 0 failed, 0 not run" "$DIR/apply.log" || { tail -5 "$DIR/apply.log"; echo "first apply incomplete" >&2; exit 1; }
apply_execs=$(sed -n 's/^Host h1 (\([0-9]*\) exec.*/\1/p' "$DIR/apply.log" | head -n 1)
[[ $apply_execs =~ ^[0-9]+$ ]] || { grep Host "$DIR/apply.log" >&2; echo "no exec count for h1 in the apply report" >&2; exit 1; }
$BIN plan -f "$DIR/estate" --detailed-exitcode >"$DIR/plan.log" 2>&1 || { cat "$DIR/plan.log"; echo "the plan after apply is not empty" >&2; exit 1; }

SSH=(ssh -F /dev/null -i "$DIR/id_ed25519" -o UserKnownHostsFile="$DIR/known_hosts" -o StrictHostKeyChecking=yes
    -o BatchMode=yes -o ControlMaster=no -o ControlPath=none -o LogLevel=ERROR)
# read_script I MODE: one exec's script for host I; MODE one (one virsh for every read) or
# per-read (one virsh per read). Both print the same facts domform's observe reads.
read_script() {
    local r v='virsh -c qemu:///system'
    r=$(repo_of "$1")
    echo "export LC_ALL=C; find $r -printf '%s %b %p\n'; df -P -k $r"
    if [[ $2 == one ]]; then
        # shellcheck disable=SC2016 # expands on the test host
        echo 'c="capabilities; echo @@; list --all; echo @@"
for n in $('"$v"' list --all --name); do c="$c; dumpxml --inactive --security-info --domain $n; echo @@ rc"; done
for n in $('"$v"' list --name); do c="$c; dumpxml --domain $n; echo @@ rc; vcpuinfo --domain $n; echo @@ rc"; done
'"$v"' "$c"'
    else
        # shellcheck disable=SC2016 # expands on the test host
        echo "$v capabilities; $v list --all"'
for n in $('"$v"' list --all --name); do '"$v"' dumpxml --inactive --security-info --domain $n; done
for n in $('"$v"' list --name); do '"$v"' dumpxml --domain $n; '"$v"' vcpuinfo --domain $n; done'
    fi
}
read_all() {
    local i
    for i in $(seq 1 "$H"); do
        "${SSH[@]}" "root@$(addr_of "$i")" "$(read_script "$i" "$1")" >"$DIR/floor.$i" 2>&1 &
    done
    wait
    for i in $(seq 1 "$H"); do
        local n
        n=$(grep -c '^  <name>lv-' "$DIR/floor.$i" || true)
        ((n == V + RUNNING)) || { echo "the $1 read of h$i printed $n domain XMLs, not $((V + RUNNING))" >&2; exit 1; }
    done
}
# qemu_cpu: CPU seconds (user + system) the test hosts' QEMUs have used so far (the children of
# each host's reaper, scripts/testhosts-libvirt.sh; not other runs' guests on this machine).
qemu_cpu() {
    local t=0 p s i
    for p in $(for i in $(seq 1 "$H"); do ps -o pid=,comm= --ppid "$(cat "$DIR/h$i/reaper.pid")"; done | awk '$2 ~ /^qemu-system/ { print $1 }'); do
        s=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)
        t=$((t + s))
    done
    awk -v t="$t" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", t / hz }'
}

plan_t=() floor_t=() per_read_t=()
c0=$(qemu_cpu) w0=$(now)
for _ in $(seq 1 "$RUNS"); do
    t0=$(now); $BIN plan -f "$DIR/estate" --detailed-exitcode >/dev/null; t1=$(now); plan_t+=("$(sub "$t1" "$t0")")
    t0=$(now); read_all one; t1=$(now); floor_t+=("$(sub "$t1" "$t0")")
    t0=$(now); read_all per-read; t1=$(now); per_read_t+=("$(sub "$t1" "$t0")")
done
c1=$(qemu_cpu) w1=$(now)
guest_cpu=$(awk -v c="$(sub "$c1" "$c0")" -v w="$(sub "$w1" "$w0")" 'BEGIN { printf "%.0f", 100 * c / w }')
p=$(printf '%s\n' "${plan_t[@]}" | median)
f=$(printf '%s\n' "${floor_t[@]}" | median)
pr=$(printf '%s\n' "${per_read_t[@]}" | median)
execs=$($BIN -vv plan -f "$DIR/estate" 2>&1 >/dev/null | grep -c "observed execs=1$" || true)
((execs == H)) || { echo "expected 1 exec on each of $H hosts, saw $execs" >&2; exit 1; }
rss=$( { /usr/bin/time -f '%M' "$BIN" plan -f "$DIR/estate" >/dev/null; } 2>&1 | tail -n 1)
ratio=$(awk -v a="$p" -v b="$f" 'BEGIN { printf "%.2f", a / b }')
# The type domform chose for its domains: kvm when the host's libvirt offers it, else qemu (TCG).
xml=$(scripts/testhosts ssh --dir "$DIR" 1 -- virsh -c qemu:///system dumpxml --domain lv-h1-001 2>&1 || true)
kvm=qemu
[[ $xml == *"<domain type='kvm'"* ]] && kvm=kvm
[[ $xml == *"<domain type="* ]] || { echo "cannot read lv-h1-001's XML: $xml" >&2; exit 1; }

cmd="bench/libvirt.sh"
((CI_MODE)) && cmd+=" --ci" || cmd+=" $H $V"
printf '`%s` (%s hosts x %s domains, %s running per host, domain type %s, median of %s runs, %s CPUs; test hosts up in %s s)\n\n' \
    "$cmd" "$H" "$V" "$RUNNING" "$kvm" "$RUNS" "$(nproc)" "$up_s"
printf '| scenario | seconds | vs floor | SSH execs per host | peak RSS |\n|---|---|---|---|---|\n'
printf '| first apply: define %s domains, start %s | %s s | - | %s on h1 (lock+observe, and %s in its apply report) | - |\n' \
    "$((H * V))" "$((H * RUNNING))" "$first_apply" "$((1 + apply_execs))" "$apply_execs"
printf '| domform plan, no changes | %s s | %sx | 1 (%s/%s hosts) | %s KiB |\n' "$p" "$ratio" "$execs" "$H" "$rss"
printf '| floor: 1 OpenSSH exec/host, one virsh for every read | %s s | 1.00x | 1 | - |\n' "$f"
printf '| 1 OpenSSH exec/host, one virsh per read | %s s | %sx | 1 | - |\n' "$pr" \
    "$(awk -v a="$pr" -v b="$f" 'BEGIN { printf "%.2f", a / b }')"
printf '\nThe %s running guests used %s%% of one CPU while the plans and floors were timed.\n' "$((H * RUNNING))" "$guest_cpu"
if ((!CI_MODE)) && awk -v r="$ratio" 'BEGIN { exit !(r > 1.5) }'; then
    echo "domform is ${ratio}x the floor: over the 1.5x target" >&2
    exit 1
fi
