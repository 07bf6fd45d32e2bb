# scripts/testhosts-libvirt.sh — the `--toolstack libvirt` part of scripts/testhosts (sourced by it).
#
# A libvirt test host runs its own libvirtd (QEMU driver, plain qemu:///system) inside the host's
# network and mount namespaces, with private /etc/libvirt, /var/lib/libvirt, /run/libvirt,
# /var/cache/libvirt, /var/log/libvirt and /run/lock bind-mounted from DIR/h<i>/libvirt/. So several
# hosts run side by side with the same domain names and VNC ports, and everything they make goes
# with the namespace at `down`. Why each setting is there: docs/libvirt-research.md.

# Packages the libvirt hosts need (Debian names; install with --no-install-recommends).
LIBVIRT_PACKAGES="libvirt-daemon libvirt-clients qemu-system-x86"

# The directories each libvirt host gets a private copy of (name under DIR/h<i>/libvirt/ = path).
LIBVIRT_DIRS="etc=/etc/libvirt lib=/var/lib/libvirt run=/run/libvirt cache=/var/cache/libvirt log=/var/log/libvirt lock=/run/lock"

# QEMU's capabilities, probed once (6-9 s) and reused by every later libvirtd (gotcha 6).
# A stale cache is harmless: libvirtd checks it against the QEMU binary and probes again.
libvirt_caps_cache() {
    echo "${TESTHOSTS_CACHE:-$REPO_ROOT/target/testhosts}/qemu-capabilities"
}

# A child subreaper: runs its arguments and reaps every orphan re-parented to it. libvirtd and the
# QEMUs it double-forks end up here instead of at PID 1, which on some machines reaps zombies only
# after 1-2 s and so makes every `virsh destroy` and `save` wait that long (gotcha 3).
LIBVIRT_REAPER='
import ctypes, os, sys, time
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
if os.fork() == 0:
    os.execv(sys.argv[1], sys.argv[1:])
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.2)
'

# libvirt_check_up: `up --toolstack libvirt` prerequisites, in the root namespace.
libvirt_check_up() {
    need_cmd libvirtd libvirt-daemon
    need_cmd virsh libvirt-clients
    need_cmd qemu-system-x86_64 qemu-system-x86
    need_cmd python3 python3
    getent passwd libvirt-qemu >/dev/null ||
        die "user 'libvirt-qemu' is missing (libvirt's QEMU driver refuses to start without it); create it with:
  useradd -r -U -M -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu"
    [[ "$PROFILE" == current ]] || die "--toolstack libvirt works only with --profile current"
    local d
    for d in $LIBVIRT_DIRS; do
        mkdir -p "${d#*=}" # mount points on the root filesystem (empty; left there, like /OVS)
    done
}

# libvirt_host_init I: runs inside host I's namespaces (from __host-init); starts its libvirtd.
libvirt_host_init() {
    local i="$1" lv="$DIR/h$1/libvirt" d f
    for d in $LIBVIRT_DIRS; do
        mkdir -p "$lv/${d%%=*}"
        mount --bind "$lv/${d%%=*}" "${d#*=}"
    done
    # qemu.conf: QEMU as root without a security driver or cgroups (a test host has no
    # /sys/fs/cgroup: `ip netns exec` remounts /sys), stdio to files, so no virtlogd is needed.
    cat >/etc/libvirt/qemu.conf <<'EOF'
# written by scripts/testhosts up --toolstack libvirt
user = "root"
group = "root"
stdio_handler = "file"
cgroup_controllers = [ ]
security_driver = "none"
EOF
    cat >/etc/libvirt/libvirtd.conf <<'EOF'
# written by scripts/testhosts up --toolstack libvirt
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOF
    mkdir -p /var/cache/libvirt/qemu/capabilities
    for f in "$(libvirt_caps_cache)"/*.xml; do
        [[ -f "$f" ]] && install -m 0600 "$f" /var/cache/libvirt/qemu/capabilities/
    done
    setsid python3 -c "$LIBVIRT_REAPER" "$(abs_cmd libvirtd)" -d -p /run/libvirt/libvirtd.pid \
        </dev/null >>"$lv/log/libvirtd.out" 2>&1 &
    echo "$!" >"$DIR/h$i/reaper.pid"
    for ((f = 0; f < 200; f++)); do
        [[ -S /run/libvirt/libvirt-sock ]] && return 0
        sleep 0.05
    done
    echo "$PROG: error: libvirtd of h$i did not create its socket within 10 s; see $lv/log/" >&2
    return 1
}

# libvirt_after_up: keep the capabilities h1's libvirtd probed (or found valid) for the next `up`.
libvirt_after_up() {
    local src="$DIR/h1/libvirt/cache/qemu/capabilities" dst f
    dst="$(libvirt_caps_cache)"
    for f in "$src"/*.xml; do
        [[ -f "$f" ]] || continue
        cmp -s "$f" "$dst/${f##*/}" && continue
        mkdir -p "$dst" && cp "$f" "$dst/.${f##*/}.tmp" && mv "$dst/.${f##*/}.tmp" "$dst/${f##*/}" ||
            warn "could not keep the QEMU capabilities cache in $dst"
    done
}

# Run over ssh on every new libvirt host: the connection waits until the QEMU driver is ready
# (the first start probes QEMU), so `up` returns only when `virsh` answers at once.
# shellcheck disable=SC2016 # expands on the test host
LIBVIRT_REMOTE_CHECK='
out=$(LC_ALL=C virsh -c qemu:///system -q list --all 2>&1) || { echo "virsh list failed: $out"; exit 1; }
LC_ALL=C virsh -c qemu:///system capabilities 2>&1 | grep -q "<domain type=.qemu./>" || { echo "libvirt offers no qemu (TCG) domains"; exit 1; }
'

# libvirt_stop_host I: ends host I's libvirtd and QEMUs (`down`, before everything else). They
# are the reaper's children (QEMU is double-forked), so they are killed while the reaper still
# lives to reap them at once; killed later, they would linger as zombies of PID 1. Killing QEMU
# is what `virsh destroy` does; libvirtd's records of the domains go with DIR/h<i>/libvirt.
libvirt_stop_host() {
    local i="$1" ns reaper pids p tries left
    ns="$(ns_name "$TAG" "$i")"
    reaper="$(read_pid "$DIR/h$i/reaper.pid")"
    pid_in_ns "$reaper" "$ns" || return 0
    pids="$(ps -o pid= --ppid "$reaper" 2>/dev/null || true)"
    [[ -n "${pids//[[:space:]]/}" ]] || return 0
    # shellcheck disable=SC2086 # word splitting of the pid list is intended
    kill -TERM $pids 2>/dev/null || true
    for ((tries = 0; tries < 60; tries++)); do
        left=""
        for p in $pids; do
            [[ ! -d "/proc/$p" ]] || left="$left $p"
        done
        [[ -n "$left" ]] || return 0
        ((tries != 30)) || kill -KILL $left 2>/dev/null || true
        sleep 0.1
    done
    warn "h$i: libvirt processes still there after SIGKILL:$left"
}
