#!/usr/bin/env bash
# domform vs Ansible vs pyinfra on the same sshd test hosts, in one run (needs root).
#
# The job, written three ways (domform YAML, bench/compare/site.yml, bench/compare/deploy.py):
# on each host, V VMs, each with its vm.cfg, one sparse 1 GiB disk, pinned to CPUs 2-3, running.
# The vm.cfg bytes and disk paths all three use come from `domform plan --format json` on the
# empty hosts (bench/compare/gen.py), so each tool's result plans as "no changes" in domform.
#
# Scenarios, for every hosts x VMs size:
#   first apply  from empty hosts (reset before every run): domform apply / ansible-playbook /
#                pyinfra -y; every run checked afterwards with `domform plan` (no changes)
#   no-op        converged hosts: domform plan / ansible-playbook --check --diff / pyinfra -y
#                (a real run: pyinfra 3's --dry skips change detection); plus the floor: one
#                plain OpenSSH exec per host, all hosts in parallel, printing the same facts
#   drift        memory of one vm.cfg on h1 changed by hand before every run; the tool repairs it
#                (domform apply / ansible-playbook / pyinfra -y), checked with `domform plan`
#
#   bench/compare.sh [--quick]     --quick: hosts 1,5 x VMs 10
#
# Environment (defaults in brackets):
#   SIZES ("1x10 5x10 10x10 20x10 1x50 5x50 10x50 20x50"; --quick: "1x10 5x10")  hosts x VMs/host
#   RUNS_FAST (7)  runs of domform and the floor per scenario
#   RUNS_SLOW (3)  runs of Ansible and pyinfra per scenario; 1 at hosts*VMs >= ONE_RUN_AT (20)
#   SLOW_ALL  ("1x10 5x10")   sizes where Ansible and pyinfra run all three scenarios
#   SLOW_NOOP ("1x50 10x10 10x50 20x50")  sizes where they run only the no-op scenario (on hosts
#             converged by domform); at other sizes they are not run (time budget)
#   TIMEOUT (900)  seconds per Ansible/pyinfra run; TIMEOUT_BIG (300) the same at hosts*VMs >= 1000
#   TOOLS ("domform ansible pyinfra"), NET (193: the test hosts' 10.NET.i.0/24 subnets)
# Writes bench/results/compare-<date>.md (the table) and bench/results/compare-<date>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
B=$ROOT/bench

QUICK=0
if [[ ${1:-} == --quick ]]; then QUICK=1; shift; fi
(($# == 0)) || { echo "usage: bench/compare.sh [--quick]" >&2; exit 2; }
if ((QUICK)); then
    SIZES=${SIZES:-"1x10 5x10"} RUNS_FAST=${RUNS_FAST:-5} RUNS_SLOW=${RUNS_SLOW:-2}
fi
SIZES=${SIZES:-"1x10 5x10 10x10 20x10 1x50 5x50 10x50 20x50"}
RUNS_FAST=${RUNS_FAST:-7}
RUNS_SLOW=${RUNS_SLOW:-3}
ONE_RUN_AT=${ONE_RUN_AT:-20}
SLOW_ALL=${SLOW_ALL:-"1x10 5x10"}
SLOW_NOOP=${SLOW_NOOP:-"1x50 10x10 10x50 20x50"}
TIMEOUT=${TIMEOUT:-900}
TIMEOUT_BIG=${TIMEOUT_BIG:-300}
TOOLS=${TOOLS:-"domform ansible pyinfra"}
NET=${NET:-193}

STAMP=$(date -u +%Y-%m-%dT%H%M)
mkdir -p "$B/results"
OUT=$B/results/compare-$STAMP.md
LOG=$B/results/compare-$STAMP.log
DIR=$(mktemp -d /tmp/domform-compare.XXXXXX)
RECORDS=$DIR/records.tsv
: >"$RECORDS"
trap 'scripts/testhosts down --dir "$DIR/hosts" >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
exec 3>&2
say() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$LOG" >&3; }

# ------------------------------------------------------------------ tools
cargo build -q --release --workspace
DOMFORM=$ROOT/target/release/domform
VENV=$B/.venv
if [[ ! -x $VENV/bin/ansible-playbook || ! -x $VENV/bin/pyinfra ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q 'ansible-core' 'pyinfra>=3,<4'
fi
ANSIBLE_VERSION=$("$VENV/bin/ansible-playbook" --version 2>/dev/null | sed -n 1p)
PYINFRA_VERSION=$("$VENV/bin/pyinfra" --version 2>&1 | tail -n 1)
say "domform $("$DOMFORM" --version 2>/dev/null || echo '?'), $ANSIBLE_VERSION, $PYINFRA_VERSION, $(ssh -V 2>&1)"

# ------------------------------------------------------------------ helpers
now() { date +%s.%N; }
addr_of() { awk -v h="  h$1:" '$0==h{f=1} f&&/address:/{print $2; exit}' "$DIR/hosts/hosts.yaml"; }
repo_of() { awk -v h="  h$1:" '$0==h{f=1} f&&/repository:/{print $2; exit}' "$DIR/hosts/hosts.yaml"; }
SSH=(ssh -F /dev/null -i "$DIR/hosts/id_ed25519" -o UserKnownHostsFile="$DIR/hosts/known_hosts"
    -o StrictHostKeyChecking=yes -o BatchMode=yes -o LogLevel=ERROR)

# reset_hosts: every host empty again (no domains but Domain-0, no VM folders, no disks).
reset_hosts() {
    local i r pids=()
    for i in $(seq 1 "$H"); do
        r=$(repo_of "$i")
        "${SSH[@]}" "root@$(addr_of "$i")" "for d in \$(xm list | awk 'NR > 1 && \$1 != \"Domain-0\" {print \$1}'); do xm destroy \$d >/dev/null; done
            rm -rf $r/VirtualMachines/* $r/VirtualDisks/* $r/.domform-trash
            [ \$(xm list | wc -l) = 2 ]" &
        pids+=("$!")
    done
    for i in "${pids[@]}"; do wait "$i" || { say "reset failed"; exit 1; }; done
}

# drift_h1: memory of h1's first VM changed by hand in its vm.cfg (256 -> 512).
drift_h1() {
    "${SSH[@]}" "root@$(addr_of 1)" "f=\$(ls $(repo_of 1)/VirtualMachines/*/vm.cfg | head -n 1)
        sed -i 's/^memory = 256\$/memory = 512/' \$f; grep -q '^memory = 512\$' \$f"
}

converged() { "$DOMFORM" plan -f "$DIR/estate" --detailed-exitcode >/dev/null 2>&1; }

# The floor: one plain OpenSSH exec per host, all hosts in parallel, the facts domform reads.
floor_once() {
    local i
    for i in $(seq 1 "$H"); do
        "${SSH[@]}" "root@$(addr_of "$i")" "xm info -n; xm list -l; cat $(repo_of "$i")/VirtualMachines/*/vm.cfg; find $(repo_of "$i")/VirtualDisks -printf '%s %b %p\n'" >/dev/null &
    done
    wait
}

# run_tool TOOL MODE: one run of TOOL (MODE apply|check); sets T (seconds), RSS (KiB),
# EXECS ("min max" SSH sessions per host), RC. Output goes to $DIR/last.out.
run_tool() {
    local tool=$1 mode=$2 t0 t1 cmd
    local elog=$DIR/execs.log
    : >"$elog"
    case $tool:$mode in
        domform:check) cmd=("$DOMFORM" plan -f "$DIR/estate") ;;
        domform:apply) cmd=("$DOMFORM" apply -f "$DIR/estate" --auto-approve) ;;
        ansible:check) cmd=("$VENV/bin/ansible-playbook" --check --diff "$B/compare/site.yml") ;;
        ansible:apply) cmd=("$VENV/bin/ansible-playbook" "$B/compare/site.yml") ;;
        pyinfra:*) cmd=("$VENV/bin/python" "$B/compare/pyinfra-counted.py" -y --parallel "$H"
            "$DIR/job/inventory.py" "$B/compare/deploy.py") ;;
        floor:*) cmd=(floor_once) ;;
    esac
    t0=$(now)
    set +e
    if [[ $tool == floor ]]; then
        floor_once >"$DIR/last.out" 2>&1
    else
        (cd "$DIR/job" && EXEC_LOG=$elog ANSIBLE_CONFIG=$DIR/job/ansible.cfg \
            timeout "$TIMEOUT_NOW" /usr/bin/time -f '%M' -o "$DIR/rss" "${cmd[@]}") >"$DIR/last.out" 2>&1
    fi
    RC=$?
    set -e
    t1=$(now)
    T=$(echo "$t1 - $t0" | bc)
    RSS=$( [[ $tool == floor ]] && echo - || tail -n 1 "$DIR/rss" 2>/dev/null | grep -E '^[0-9]+$' || echo -)
    case $tool in
        ansible | pyinfra) EXECS=$(execs_per_host <"$elog") ;;
        domform) if [[ $mode == apply ]]; then EXECS=$(domform_apply_execs <"$DIR/last.out"); else EXECS=-; fi ;;
        floor) EXECS="1 1" ;;
    esac
    cat "$DIR/last.out" >>"$LOG"
}

# execs_per_host: "<kind> <address>" lines -> "min max" sessions per host (hosts with none: 0).
execs_per_host() {
    awk -v h="$H" '{n[$2]++} END {min=-1; max=0; k=0
        for (a in n) {k++; if (min < 0 || n[a] < min) min = n[a]; if (n[a] > max) max = n[a]}
        if (k < h || min < 0) min = 0; print min, max}'
}

# domform apply: 1 lock+observe exec per host, plus "(N execs)" for hosts with changes.
domform_apply_execs() {
    awk -v h="$H" '/^Host h[0-9]+ \([0-9]+ execs?\):/ {k++; n = substr($3, 2) + 1
        if (min == "" || n < min) min = n; if (n > max) max = n}
        END {if (k < h) {if (min == "" || 1 < min) min = 1; if (max < 1) max = 1}; print min, max}'
}

# record SCENARIO TOOL STATUS TIMES... : one line of the results table's raw data.
record() {
    local scen=$1 tool=$2 status=$3
    shift 3
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$H" "$V" "$scen" "$tool" "$status" "$(echo "$*" | tr ' ' ,)" \
        "${EXECS_SEEN:--}" "${RSS_SEEN:--}" >>"$RECORDS"
}

# keep the widest exec range and the highest RSS over a scenario's runs
track() {
    local lo hi
    read -r lo hi <<<"$EXECS"
    if [[ $EXECS != - ]]; then
        if [[ -z ${EXECS_SEEN:-} || $EXECS_SEEN == - ]]; then EXECS_SEEN="$lo $hi"; else
            read -r a b <<<"$EXECS_SEEN"
            EXECS_SEEN="$((lo < a ? lo : a)) $((hi > b ? hi : b))"
        fi
    fi
    if [[ $RSS != - ]] && { [[ ${RSS_SEEN:--} == - ]] || ((RSS > RSS_SEEN)); }; then RSS_SEEN=$RSS; fi
}

# scenario SCEN TOOL MODE RUNS PREP: RUNS timed runs, PREP before each; every run must converge.
scenario() {
    local scen=$1 tool=$2 mode=$3 runs=$4 prep=$5 times=() status=ok r
    EXECS_SEEN=- RSS_SEEN=-
    for r in $(seq 1 "$runs"); do
        $prep
        say "  $tool $scen run $r/$runs"
        run_tool "$tool" "$mode"
        if ((RC == 124)); then
            say "  $tool $scen: timed out after $TIMEOUT_NOW s"
            status=timeout; times+=("$TIMEOUT_NOW"); break
        elif ((RC != 0)); then
            grep -E 'ERROR|rror:|FAILED|fatal' "$DIR/last.out" | tail -n 3 | cut -c1-300 >&3 || true
            say "  $tool $scen: exit status $RC"
            status=failed; break
        fi
        track
        times+=("$T")
        if [[ $tool != floor ]] && ! converged; then
            say "  $tool $scen: domform plan still shows changes afterwards"
            status=not-converged; break
        fi
    done
    [[ ${#times[@]} -gt 0 ]] || times=(0)
    record "$scen" "$tool" "$status" "${times[@]}"
}

# domform's no-op plan and the floor, interleaved, RUNS_FAST times each; domform's execs per
# host from its own log (`-vv`: "observed execs=1" once per host), in one more run
noop_vs_floor() {
    local r dt=() ft=() dex=- drss=- n1
    for r in $(seq 1 "$RUNS_FAST"); do
        say "  domform no-op + floor run $r/$RUNS_FAST"
        run_tool domform check
        ((RC == 0)) || { say "  domform plan failed"; exit 1; }
        dt+=("$T")
        if [[ $drss == - ]] || ((RSS > drss)); then drss=$RSS; fi
        run_tool floor check
        ft+=("$T")
    done
    "$DOMFORM" -vv plan -f "$DIR/estate" 2>"$DIR/vv.log" >/dev/null
    n1=$(grep -c 'observed execs=1$' "$DIR/vv.log" || true)
    if ((n1 == H)); then dex="1 1"; fi
    EXECS_SEEN=$dex RSS_SEEN=$drss record no-op domform ok "${dt[@]}"
    EXECS_SEEN="1 1" RSS_SEEN=- record no-op floor ok "${ft[@]}"
}

# make the hosts converged for the next scenario whatever the previous tool left
ensure_converged() { converged || "$DOMFORM" apply -f "$DIR/estate" --auto-approve >>"$LOG" 2>&1; }
nothing() { :; }

CMDLINE="bench/compare.sh"
((QUICK)) && CMDLINE+=" --quick"
render() {
    python3 "$B/compare/table.py" "$RECORDS" >"$OUT.tmp"
    {
        echo "# domform vs Ansible vs pyinfra ($STAMP)"
        echo
        echo "\`$CMDLINE\` with SIZES=\"$SIZES\" RUNS_FAST=$RUNS_FAST RUNS_SLOW=$RUNS_SLOW ONE_RUN_AT=$ONE_RUN_AT SLOW_ALL=\"$SLOW_ALL\" SLOW_NOOP=\"$SLOW_NOOP\" TIMEOUT=$TIMEOUT TIMEOUT_BIG=$TIMEOUT_BIG,"
        echo "on $(nproc) CPUs; $ANSIBLE_VERSION; $PYINFRA_VERSION; $(ssh -V 2>&1)."
        echo
        cat "$OUT.tmp"
    } >"$OUT"
    rm -f "$OUT.tmp"
}

# ------------------------------------------------------------------ the matrix
in_list() { [[ " $2 " == *" $1 "* ]]; }
for size in $SIZES; do
    H=${size%x*} V=${size#*x}
    say "== $H hosts x $V VMs"
    mkdir -p "$DIR/hosts"
    scripts/testhosts up "$H" --dir "$DIR/hosts" --xm target/release/xm --net "$NET" \
        --memory 1048576 --disk-size 2G >>"$LOG" 2>&1
    rm -rf "$DIR/estate" "$DIR/job"
    python3 "$B/compare/gen.py" estate "$DIR/hosts" "$DIR/estate" "$H" "$V"
    "$DOMFORM" plan -f "$DIR/estate" --format json >"$DIR/plan.json" 2>>"$LOG" || true
    python3 "$B/compare/gen.py" job "$DIR/hosts" "$DIR/plan.json" "$DIR/job"
    cat >"$DIR/job/ansible.cfg" <<EOF
[defaults]
inventory = $DIR/job/inventory.yml
forks = $H
gathering = explicit
host_key_checking = True
retry_files_enabled = False
interpreter_python = /usr/bin/python3
local_tmp = $DIR/job/.ansible-tmp
[ssh_connection]
pipelining = True
ssh_executable = $B/compare/wrap/ssh
sftp_executable = $B/compare/wrap/sftp
scp_executable = $B/compare/wrap/scp
control_path_dir = $DIR/job/cp
EOF
    TIMEOUT_NOW=$TIMEOUT
    ((H * V < 1000)) || TIMEOUT_NOW=$TIMEOUT_BIG
    for tool in $TOOLS; do
        if [[ $tool == domform ]]; then
            scenario first-apply domform apply "$RUNS_FAST" reset_hosts
            ensure_converged
            noop_vs_floor
            scenario drift domform apply "$RUNS_FAST" drift_h1
        else
            runs=$RUNS_SLOW
            ((H * V < ONE_RUN_AT)) || runs=1
            if in_list "$size" "$SLOW_ALL"; then
                scenario first-apply "$tool" apply "$runs" reset_hosts
                ensure_converged
                scenario no-op "$tool" check "$runs" nothing
                scenario drift "$tool" apply "$runs" drift_h1
            elif in_list "$size" "$SLOW_NOOP"; then
                ensure_converged
                scenario no-op "$tool" check "$runs" nothing
            fi
        fi
        ensure_converged
        render
    done
    scripts/testhosts down --dir "$DIR/hosts" >>"$LOG" 2>&1
    rm -rf "$DIR/hosts"
done
render
cat "$OUT"
say "wrote $OUT (log: $LOG)"
