//! The shell of a Manager's ops: `replace-file` (a WebLogic descriptor, edited in place with
//! its owner and mode kept) and `run-command` (the declared `restart_command`). The batch
//! script around them (step markers, link guards, time limits) is [`crate::apply::script`]'s.

use crate::transport::quote;

/// The temp file starts as a `cp -p` of the original, so writing into it keeps the owner,
/// group and mode (a WebLogic descriptor belongs to the Manager's user); then the original is
/// kept as `.domform-bak` and the temp file renamed over it.
pub fn replace_file(path: &str, content: &str) -> String {
    let p = quote(path);
    format!(
        "{{ t={tmp}.$$; {{ [ -f {p} ] || {{ echo {missing} >&2; false; }}; }} && cp -p -- {p} \"$t\" && \
printf '%s' {c} > \"$t\" && cp -p -- {p} {bak} && mv -f -- \"$t\" {p} || {{ rm -f -- \"$t\"; false; }}; }}",
        tmp = quote(&format!("{path}.domform-tmp")),
        missing = quote(&format!("{path} is missing; not creating it")),
        c = quote(content),
        bak = quote(&format!("{path}.domform-bak"))
    )
}

/// A declared command, with stdin from /dev/null and output through a temp file: daemons it
/// starts (a Manager's WebLogic) must not hold the SSH channel open, or the apply never ends.
pub fn run_command(command: &str) -> String {
    format!(
        "{{ o=$(mktemp \"${{TMPDIR:-/tmp}}/domform.XXXXXXXXXX\") || exit 1; sh -c {} </dev/null >\"$o\" 2>&1; r=$?; cat \"$o\"; rm -f -- \"$o\"; [ \"$r\" -eq 0 ]; }}",
        quote(command)
    )
}
