# Sourced by the bench scripts: the prologue they share.
# bench_setup: a scratch folder DIR whose test hosts are taken down on exit, and the build
# (debug for a CI smoke run, CI_MODE=1; release otherwise) as T (target folder) and BIN.
bench_setup() {
    DIR=$(mktemp -d /tmp/domform-bench.XXXXXX)
    trap 'scripts/testhosts down --dir "$DIR" >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT
    if ((CI_MODE)); then
        cargo build -q --workspace
        T=target/debug
    else
        cargo build -q --release --workspace
        T=target/release
    fi
    BIN=$T/domform
}
