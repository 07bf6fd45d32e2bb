//! `domform plan`: the plan for people (terminal, pull-request comment) and for programs (JSON).
//!
//! People review a plan before they approve it, so it reads like Terraform's: one line per change
//! with its symbol, the fields that move, and the unified diff of every vm.cfg written. The
//! passwords domform writes are never in a plan (`plan::secrets`: placeholders such as
//! `(secret: env VNC_PW)` stand for them), but text read from hosts (error messages, a vm.cfg
//! the plan deletes, a Manager's data source) may hold one, and plans end up in CI logs and PR
//! comments, so every text that leaves this module still goes through [`redact`].

use super::escape as esc;
use similar::TextDiff;

use crate::plan::{Action, Change, FieldChange, HostPlan, Impact, Op, Plan, Resource};

/// What replaces a secret value in every output.
pub const REDACTED: &str = "(redacted)";

const NO_CHANGES: &str = "No changes. The hosts match the desired state.";
/// Runs of identical disk creates longer than this are folded into one line (not with `-v`).
pub const FOLD_AFTER: usize = 5;
/// Field values and diff lines longer than this, holding a list of more than [`FOLD_AFTER`]
/// entries, are summarised (not with `-v`).
const LONG: usize = 160;
const RED: &str = "31";
const GREEN: &str = "32";
const YELLOW: &str = "33";
const CYAN: &str = "36";

/// Hides VNC passwords in vm.cfg text (or any text quoting it), and WebLogic's encrypted
/// passwords (`{AES}…`, `{3DES}…`) in a Manager's data source.
///
/// Replaces the value of `vncpasswd=<value>` inside a string (up to `,`, `'`, `"` or the end of
/// the line) and of a top-level `vncpasswd = '<value>'` assignment with [`REDACTED`].
pub fn redact(text: &str) -> String {
    redact_weblogic(&redact_vnc(text))
}

/// `{AES}<base64>` → `{AES}(redacted)`: anyone with the domain can decrypt those values.
fn redact_weblogic(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let next = |r: &str| [r.find("{AES}"), r.find("{3DES}")].into_iter().flatten().min();
    while let Some(i) = next(rest) {
        let tag = if rest[i..].starts_with("{AES}") { 5 } else { 6 };
        let start = i + tag;
        let len = rest[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')))
            .unwrap_or(rest.len() - start);
        out.push_str(&rest[..start]);
        if len > 0 {
            out.push_str(REDACTED);
        }
        rest = &rest[start + len..];
    }
    out.push_str(rest);
    out
}

fn redact_vnc(text: &str) -> String {
    const KEY: &str = "vncpasswd";
    let lower = text.to_ascii_lowercase(); // same byte offsets: only ASCII bytes change
    let b = text.as_bytes();
    let blank = |mut i: usize| {
        while matches!(b.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        i
    };
    let (mut out, mut copied, mut from) = (String::with_capacity(text.len()), 0, 0);
    while let Some(found) = lower[from..].find(KEY) {
        let start = from + found;
        from = start + KEY.len();
        let eq = blank(from);
        if b.get(eq) != Some(&b'=') {
            continue;
        }
        let i = blank(eq + 1);
        let before = text[text[..start].rfind('\n').map_or(0, |n| n + 1)..start].trim_end();
        // A quoted value is an assignment's (line start, after `;`, or spaced `=`); inside a
        // string (`'type=vnc,vncpasswd=x'`) the value is unquoted and a quote ends it.
        let quoted_ok = before.is_empty() || before.ends_with(';') || eq > from || i > eq + 1;
        let (vstart, vend) = match b.get(i) {
            Some(&q @ (b'\'' | b'"')) if quoted_ok => {
                let end = text[i + 1..].find([q as char, '\n']).map_or(text.len(), |n| i + 1 + n);
                (i + 1, end)
            }
            _ => (i, text[i..].find([',', '\'', '"', '\n', '\r']).map_or(text.len(), |n| i + n)),
        };
        // A placeholder (`(secret: env VNC_PW)`) is what domform planned instead of a value.
        if vend > vstart && !crate::model::secret::is_placeholder(&text[vstart..vend]) {
            out.push_str(&text[copied..vstart]);
            out.push_str(REDACTED);
            copied = vend;
            from = vend;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// A field's values with secrets hidden: whole values of password fields, embedded ones elsewhere.
fn redact_field(f: &FieldChange) -> FieldChange {
    let secret = is_secret_field(f.field.as_str());
    let hidden =
        |v: &String| if secret && !crate::model::secret::is_placeholder(v) { REDACTED.to_string() } else { redact(v) };
    let hide = |v: &Option<String>| v.as_ref().map(hidden);
    FieldChange { field: f.field.clone(), old: hide(&f.old), new: hide(&f.new), impact: f.impact }
}

/// Fields whose whole value is a secret (`vncpasswd`, `password`).
pub fn is_secret_field(field: &str) -> bool {
    ["vncpasswd", "password"].iter().any(|k| field.eq_ignore_ascii_case(k))
}

/// The `Plan: …` line: create, update and delete always, other actions when they occur.
pub fn summary(plan: &Plan) -> String {
    let counts = plan.counts();
    let n = |a: Action| counts.get(&a).copied().unwrap_or(0);
    use Action::*;
    let parts: Vec<String> = [Create, Update, Delete, Start, Stop, Pause, Unpause, Revert, Restart]
        .into_iter()
        .enumerate()
        .filter(|&(i, a)| i < 3 || n(a) > 0)
        .map(|(_, a)| format!("{} to {}", n(a), style(a).0))
        .collect();
    format!("Plan: {}.", parts.join(", "))
}

/// The terminal form, Terraform-like; `color` adds ANSI colors; folded unless `-v` was given
/// (see [`human_with`]).
pub fn human(plan: &Plan, color: bool) -> String {
    human_with(plan, color, super::verbose())
}

/// The terminal form. Each change is shown once. Unless `verbose`, bulk changes fold: a run of
/// more than [`FOLD_AFTER`] disk creates of one VM and size is one line (first … last in
/// natural order), and a field value or vm.cfg diff line longer than 160 characters is
/// summarised when it is a list of more than [`FOLD_AFTER`] entries (by its entry count).
/// `verbose` shows everything; JSON always does.
///
/// A plan without changes or errors prints only `No changes. The hosts match the desired
/// state.` (and the notes, if any).
pub fn human_with(plan: &Plan, color: bool, verbose: bool) -> String {
    let mut out = String::new();
    if plan.is_empty() && !plan.has_errors() {
        out.push_str(NO_CHANGES);
        out.push('\n');
        for h in &plan.hosts {
            for w in &h.warnings {
                out.push_str(&format!("warning: {}: {}\n", esc::line(&h.host), esc::indented(&redact(w), "  ")));
            }
            for n in &h.notes {
                out.push_str(&format!("note: {}: {}\n", esc::line(&h.host), esc::indented(&redact(n), "  ")));
            }
        }
        return out;
    }
    if !plan.is_empty() {
        out.push_str("domform will perform these actions:\n");
    }
    for h in plan.hosts.iter().filter(|h| shown(h)) {
        out.push_str(&format!("\nHost {}:\n", esc::line(&h.host)));
        for line in change_lines(h, color, verbose) {
            out.push_str(&format!("  {line}\n"));
        }
        for (title, prefix, items) in
            [("Errors", "error", &h.errors), ("Warnings", "warning", &h.warnings), ("Notes", "note", &h.notes)]
        {
            if !items.is_empty() {
                out.push_str(&format!("  {title}:\n"));
            }
            for item in items {
                out.push_str(&format!("    {prefix}: {}\n", esc::indented(&redact(item), "      ")));
            }
        }
    }
    out.push_str(&format!("\n{}\n", summary(plan)));
    if let Some(line) = causes(plan) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// `Causes: 2 drift, 1 intent, 3 new.` (`plan::cause`), when any change has one.
pub fn causes(plan: &Plan) -> Option<String> {
    use crate::plan::cause::Cause;
    let all: Vec<Cause> = plan.hosts.iter().flat_map(|h| &h.changes).filter_map(|c| c.cause).collect();
    if all.is_empty() {
        return None;
    }
    let parts: Vec<String> = [Cause::Drift, Cause::Intent, Cause::New]
        .into_iter()
        .map(|k| (k, all.iter().filter(|c| **c == k).count()))
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{n} {}", k.word()))
        .collect();
    Some(format!("Causes: {}.", parts.join(", ")))
}

/// The form for a pull-request comment: the summary in bold, a table of changes per host and
/// action, then per host a collapsed ```` ```diff ```` block (GitHub and GitLab colour its `+`
/// and `-` lines, so a vm.cfg diff line's sign is moved to the first column), errors as ⛔
/// bullets, warnings as ⚠️, notes as ℹ️. Bulk changes fold as in [`human`] without `-v`.
pub fn markdown(plan: &Plan) -> String {
    let bold = if plan.is_empty() && !plan.has_errors() { NO_CHANGES.to_string() } else { summary(plan) };
    let mut out = format!("### domform plan\n\n**{bold}**\n");
    if let Some(line) = causes(plan) {
        out.push_str(&format!(
            "\n{line} (drift: the host changed since the last apply; intent: the YAML did; new: never applied)\n"
        ));
    }
    let shown_hosts: Vec<&HostPlan> = plan.hosts.iter().filter(|h| shown(h)).collect();
    if !shown_hosts.is_empty() {
        use Action::*;
        let count = |h: &HostPlan, a: Action| h.changes.iter().filter(|c| c.action == a).count();
        let actions: Vec<Action> = [Create, Update, Delete, Start, Stop, Pause, Unpause, Revert, Restart]
            .into_iter()
            .enumerate()
            .filter(|&(i, a)| i < 3 || shown_hosts.iter().any(|h| count(h, a) > 0))
            .map(|(_, a)| a)
            .collect();
        let errors = shown_hosts.iter().any(|h| !h.errors.is_empty());
        let mut head = String::from("| host |");
        let mut rule = String::from("|---|");
        for a in &actions {
            head.push_str(&format!(" {} |", style(*a).0));
            rule.push_str("---:|");
        }
        if errors {
            head.push_str(" errors |");
            rule.push_str("---:|");
        }
        out.push_str(&format!("\n{head}\n{rule}\n"));
        for h in &shown_hosts {
            let mut row = format!("| {} |", md_inline(&h.host).replace('|', "\\|"));
            for a in &actions {
                row.push_str(&format!(" {} |", count(h, *a)));
            }
            if errors {
                row.push_str(&format!(" {} |", h.errors.len()));
            }
            out.push_str(&row);
            out.push('\n');
        }
    }
    for h in shown_hosts {
        let n = h.changes.len();
        out.push_str(&format!(
            "\n<details><summary>Host {}: {n} change{}</summary>\n\n",
            md_inline(&h.host),
            if n == 1 { "" } else { "s" }
        ));
        if n > 0 {
            let body: Vec<String> = change_lines(h, false, false).iter().map(|l| sign_first(l)).collect();
            let body = body.join("\n");
            let fence = "`".repeat(longest_backtick_run(&body).max(2) + 1);
            out.push_str(&format!("{fence}diff\n{body}\n{fence}\n\n"));
        }
        for (mark, items) in [("⛔", &h.errors), ("⚠️", &h.warnings), ("ℹ️", &h.notes)] {
            for item in items {
                out.push_str(&format!("- {mark} {}\n", esc::indented(&redact(item), "  ")));
            }
        }
        if !h.errors.is_empty() || !h.warnings.is_empty() || !h.notes.is_empty() {
            out.push('\n');
        }
        out.push_str("</details>\n");
    }
    out
}

/// A host name in Markdown text or HTML: `&`, `<` and `>` as entities, control characters escaped.
fn md_inline(s: &str) -> String {
    esc::line(s).replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// An indented diff line (`      +d = 40`) with its sign moved to the first column
/// (`+     d = 40`), where a ```` ```diff ```` block colours it; a diff's `---`, `+++` and `@@`
/// lines unindented; other lines as they are.
fn sign_first(line: &str) -> String {
    let body = line.trim_start_matches(' ');
    let indent = line.len() - body.len();
    if indent > 0 && (body.starts_with("@@") || body.starts_with("+++ ") || body.starts_with("--- ")) {
        return body.to_string();
    }
    match body.as_bytes().first() {
        Some(b'+' | b'-') if indent > 0 => format!("{}{}{}", &body[..1], " ".repeat(indent), &body[1..]),
        _ => line.to_string(),
    }
}

/// The JSON form (`--format json`), also what `plan -o FILE` saves and `apply` reads back.
///
/// The shape is `{"format_version":2,"hosts":[…]}` as serde gives it for [`Plan`], and nothing is
/// lost except host secrets: file diffs, field values, error and note texts, and file contents
/// go through [`redact`]. The passwords of a vm.cfg domform writes are placeholders with a
/// `secrets` list already (`plan::secrets`), which [`redact`] leaves alone, so the saved plan
/// runs as saved: `apply::secrets` puts the values in when the host script is built.
pub fn json(plan: &Plan) -> String {
    let mut p = plan.clone();
    for h in &mut p.hosts {
        for text in h.errors.iter_mut().chain(h.warnings.iter_mut()).chain(h.notes.iter_mut()) {
            *text = redact(text);
        }
        for c in &mut h.changes {
            c.fields = c.fields.iter().map(redact_field).collect();
            if let Some(fd) = &mut c.file {
                fd.old = redact(&fd.old);
                fd.new = redact(&fd.new);
            }
            for op in &mut c.ops {
                if let Op::WriteFile { content, .. } | Op::ReplaceFile { content, .. } = op {
                    *content = redact(content);
                }
            }
        }
    }
    serde_json::to_string_pretty(&p).unwrap_or_default()
}

/// Hosts worth a section: something changes, or something is to be said.
fn shown(h: &HostPlan) -> bool {
    !h.changes.is_empty() || !h.errors.is_empty() || !h.warnings.is_empty() || !h.notes.is_empty()
}

fn longest_backtick_run(s: &str) -> usize {
    s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

fn paint(color: bool, code: &str, s: &str) -> String {
    use anstyle::{AnsiColor, Style};
    let fg = match code {
        RED => AnsiColor::Red,
        GREEN => AnsiColor::Green,
        YELLOW => AnsiColor::Yellow,
        _ => AnsiColor::Cyan,
    };
    if color {
        let st = Style::new().fg_color(Some(fg.into()));
        format!("{}{s}{}", st.render(), st.render_reset())
    } else {
        s.to_string()
    }
}

/// An action's word, symbol and color.
fn style(a: Action) -> (&'static str, &'static str, &'static str) {
    match a {
        Action::Create => ("create", "+", GREEN),
        Action::Update => ("update", "~", YELLOW),
        Action::Delete => ("delete", "-", RED),
        Action::Start => ("start", ">", GREEN),
        Action::Unpause => ("unpause", ">", GREEN),
        Action::Stop => ("stop", "<", YELLOW),
        Action::Pause => ("pause", "<", YELLOW),
        Action::Revert => ("revert", "↺", YELLOW),
        Action::Restart => ("restart", "⟳", YELLOW),
    }
}

fn kind(r: Resource) -> &'static str {
    match r {
        Resource::Vm => "vm",
        Resource::Power => "power",
        Resource::Disk => "disk",
        Resource::Snapshot => "snapshot",
        Resource::Manager => "manager",
    }
}

fn impact_word(i: Impact) -> &'static str {
    match i {
        Impact::Live => "live",
        Impact::NeedsRestart => "needs restart",
        Impact::Replace => "replace",
    }
}

/// The VM and size of a plain disk create, the only changes that fold.
fn fold_key(c: &Change) -> Option<(&str, &str)> {
    if c.resource != Resource::Disk || c.action != Action::Create {
        return None;
    }
    let [f] = c.fields.as_slice() else { return None };
    Some((c.name.split_once('/')?.0, f.new.as_deref()?))
}

/// A host's change lines, relative to the host's indentation.
fn change_lines(h: &HostPlan, color: bool, verbose: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(c) = h.changes.get(i) {
        let key = fold_key(c);
        let run = h.changes[i..].iter().take_while(|d| key.is_some() && fold_key(d) == key).count();
        match key {
            Some((vm, size)) if run > FOLD_AFTER && !verbose => {
                let names = h.changes[i..i + run].iter().map(|d| d.name.split_once('/').map_or("", |(_, n)| n));
                let first = names.clone().min_by(|a, b| super::natural_cmp(a, b)).unwrap_or_default();
                let last = names.max_by(|a, b| super::natural_cmp(a, b)).unwrap_or_default();
                let why = c.cause.map(|k| format!(", {}", k.word())).unwrap_or_default();
                let rest = format!(
                    " {run} disks {}/{} … {} (create, {} each{why})",
                    esc::line(vm),
                    esc::line(first),
                    esc::line(last),
                    esc::line(&redact(size))
                );
                out.push(format!("{}{rest}", paint(color, GREEN, "+")));
                i += run;
            }
            _ => {
                one_change(c, color, verbose, &mut out);
                i += 1;
            }
        }
    }
    out
}

/// `value` as shown without `-v`: a long list of more than [`FOLD_AFTER`] entries as its entry
/// count, anything else whole.
fn brief(value: &str, verbose: bool) -> String {
    if verbose || value.chars().count() <= LONG {
        return value.to_string();
    }
    match list_len(value) {
        Some(n) if n > FOLD_AFTER => format!("[… {n} entries …]"),
        _ => value.to_string(),
    }
}

/// The number of entries of a Python-style list `['a', 'b']`, quotes respected.
fn list_len(value: &str) -> Option<usize> {
    let inner = value.trim().strip_prefix('[')?.strip_suffix(']')?.trim();
    if inner.is_empty() {
        return Some(0);
    }
    let (mut n, mut quote) = (1, None);
    for ch in inner.chars() {
        match (quote, ch) {
            (None, '\'' | '"') => quote = Some(ch),
            (Some(q), _) if q == ch => quote = None,
            (None, ',') => n += 1,
            _ => {}
        }
    }
    Some(n - usize::from(inner.ends_with(',')))
}

/// A vm.cfg diff line as shown without `-v`: a long `key = [list]` keeps its key.
fn brief_diff_line(line: &str, verbose: bool) -> String {
    if verbose || line.chars().count() <= LONG {
        return line.to_string();
    }
    let (sign, body) = line.split_at(line.char_indices().nth(1).map_or(line.len(), |(i, _)| i));
    // Only a line whose value really folds is rewritten; any other long line (an XML line with
    // `=` inside, say) is shown exactly as it is.
    match body.split_once('=') {
        Some((key, value)) if !key.contains(['\'', '"', '[']) && brief(value.trim(), false) != value.trim() => {
            format!("{sign}{}= {}", key, brief(value.trim(), false))
        }
        Some(_) => line.to_string(),
        None => format!("{sign}{}", brief(body, false)),
    }
}

fn one_change(c: &Change, color: bool, verbose: bool, out: &mut Vec<String>) {
    let (word, sym, code) = style(c.action);
    let restart = match (c.action, c.impact) {
        (Action::Update, Impact::NeedsRestart | Impact::Replace) => format!(", {}", impact_word(c.impact)),
        _ => String::new(),
    };
    let why = c.cause.map(|k| format!(", {}", k.word())).unwrap_or_default();
    let rest = format!(" {} {} ({word}{restart}{why})", kind(c.resource), esc::line(&c.name));
    if c.action == Action::Delete {
        out.push(paint(color, RED, &format!("{sym}{rest}")));
        let what = match c.resource {
            Resource::Disk => "deletes the disk file",
            Resource::Snapshot => "deletes the snapshot (retention: snapshots.keep)",
            _ => "destroys the VM and deletes its disks",
        };
        let why = if c.resource == Resource::Snapshot { "" } else { " (allow_destroy is set)" };
        out.push(paint(color, RED, &format!("    ! {what}{why}")));
    } else {
        out.push(format!("{}{rest}", paint(color, code, sym)));
    }
    for f in c.fields.iter().map(redact_field) {
        let (old, new) = (f.old.as_deref().unwrap_or("(none)"), f.new.as_deref().unwrap_or("(removed)"));
        // When one side of a field is a bulk list, both sides are counted: `[… 4 entries …] → [… 101 …]`.
        let bulk = [old, new].iter().any(|v| brief(v, verbose) != *v);
        let show = |v: &str| match list_len(v) {
            Some(n) if bulk && v.chars().count() > LONG => format!("[… {n} entries …]"),
            _ => brief(v, verbose),
        };
        let (field, new) = (esc::line(f.field.as_str()), show(new));
        let mut line = match (c.action, &f.old) {
            (Action::Create | Action::Restart, None) => format!("    {field}: {}", esc::line(&new)),
            _ => format!("    {field}: {} → {}", esc::line(&show(old)), esc::line(&new)),
        };
        if c.action == Action::Update {
            line.push_str(&format!(" ({})", impact_word(f.impact)));
        }
        out.push(line);
    }
    if let Some(fd) = &c.file {
        let label = if c.resource == Resource::Manager { "file" } else { "vm.cfg" };
        out.push(format!("    {label} {}:", esc::line(&fd.path)));
        let (old, new) = (redact(&fd.old), redact(&fd.new));
        let diff = TextDiff::from_lines(&old, &new);
        let text = diff
            .unified_diff()
            .context_radius(3)
            .header(&format!("a{}", fd.path), &format!("b{}", fd.path))
            .to_string();
        if text.is_empty() {
            out.push("      (only redacted values differ)".into());
        }
        for line in text.lines() {
            let code = match line.as_bytes().first() {
                _ if line.starts_with("+++") || line.starts_with("---") => None,
                Some(b'+') => Some(GREEN),
                Some(b'-') => Some(RED),
                Some(b'@') => Some(CYAN),
                _ => None,
            };
            let line = brief_diff_line(line, verbose);
            let line = esc::line(&line);
            out.push(format!("      {}", code.map_or_else(|| line.to_string(), |c| paint(color, c, &line))));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action::*, FileDiff, Impact::*};

    fn f(name: &str, old: Option<&str>, new: Option<&str>, impact: Impact) -> FieldChange {
        FieldChange { field: name.into(), old: old.map(Into::into), new: new.map(Into::into), impact }
    }

    /// A change whose impact is the strongest of its fields'.
    fn ch(resource: Resource, name: &str, action: Action, fields: Vec<FieldChange>) -> Change {
        let (id, impact) =
            (format!("{}/{name}", kind(resource)), fields.iter().map(|f| f.impact).max().unwrap_or(Live));
        let (name, file, ops, depends_on) = (name.into(), None, vec![], vec![]);
        Change { id, resource, name, action, impact, fields, file, ops, depends_on, verify_pins: vec![], cause: None }
    }

    fn host(name: &str, changes: Vec<Change>) -> HostPlan {
        HostPlan { changes, ..HostPlan::new(name, "fp") }
    }

    fn plan(hosts: Vec<HostPlan>) -> Plan {
        Plan { format_version: crate::plan::FORMAT_VERSION, hosts }
    }

    const P: &str = "/OVS/Repositories/r/VirtualMachines/0004fb01/vm.cfg";

    fn small() -> Plan {
        let fields = vec![f("memory", None, Some("8192"), Live), f("vcpus", None, Some("4"), Live)];
        let mut create = ch(Resource::Vm, "db01", Create, fields);
        let new = "name = 'db01'\nmemory = 8192\nvcpus = 4\n";
        create.file = Some(FileDiff { path: P.into(), old: String::new(), new: new.into() });
        create.ops = vec![Op::WriteFile { path: P.into(), content: new.into(), backup: false, secrets: Vec::new() }];
        let fields = vec![f("memory", Some("4096"), Some("8192"), Live), f("vif", Some("a"), Some("b"), NeedsRestart)];
        let mut update = ch(Resource::Vm, "web01", Update, fields);
        let (old, new) = ("a = 1\nb = 2\nc = 3\nd = 4\ne = 5\nf = 6\n", "a = 1\nb = 2\nc = 3\nd = 40\ne = 5\nf = 6\n");
        update.file = Some(FileDiff { path: "/w/vm.cfg".into(), old: old.into(), new: new.into() });
        let start = ch(Resource::Power, "db01", Start, vec![f("state", Some("stopped"), Some("running"), Live)]);
        let delete = ch(Resource::Vm, "old01", Delete, vec![f("vm.cfg", Some("/o/vm.cfg"), None, Live)]);
        let mut h = host("h1", vec![create, update, start, delete]);
        h.errors.push("disk `x` is missing".into());
        h.notes.push("web01 restarts later".into());
        plan(vec![h])
    }

    #[test]
    fn human_small_plan_exact() {
        let want = "\
domform will perform these actions:

Host h1:
  + vm db01 (create)
      memory: 8192
      vcpus: 4
      vm.cfg /OVS/Repositories/r/VirtualMachines/0004fb01/vm.cfg:
        --- a/OVS/Repositories/r/VirtualMachines/0004fb01/vm.cfg
        +++ b/OVS/Repositories/r/VirtualMachines/0004fb01/vm.cfg
        @@ -0,0 +1,3 @@
        +name = 'db01'
        +memory = 8192
        +vcpus = 4
  ~ vm web01 (update, needs restart)
      memory: 4096 → 8192 (live)
      vif: a → b (needs restart)
      vm.cfg /w/vm.cfg:
        --- a/w/vm.cfg
        +++ b/w/vm.cfg
        @@ -1,6 +1,6 @@
         a = 1
         b = 2
         c = 3
        -d = 4
        +d = 40
         e = 5
         f = 6
  > power db01 (start)
      state: stopped → running
  - vm old01 (delete)
      ! destroys the VM and deletes its disks (allow_destroy is set)
      vm.cfg: /o/vm.cfg → (removed)
  Errors:
    error: disk `x` is missing
  Notes:
    note: web01 restarts later

Plan: 1 to create, 1 to update, 1 to delete, 1 to start.
";
        assert_eq!(human(&small(), false), want);
        let colored = human(&small(), true);
        assert!(colored.contains("\x1b[31m- vm old01 (delete)\x1b[0m"));
        assert!(colored.contains("\x1b[32m+d = 40\x1b[0m") && colored.contains("\x1b[36m@@ -1,6 +1,6 @@\x1b[0m"));
    }

    #[test]
    fn no_changes() {
        let mut p = plan(vec![host("h1", vec![]), host("h2", vec![])]);
        assert_eq!(human(&p, true), "No changes. The hosts match the desired state.\n");
        p.hosts[1].notes.push("drift".into());
        assert_eq!(human(&p, false), "No changes. The hosts match the desired state.\nnote: h2: drift\n");
        assert_eq!(summary(&p), "Plan: 0 to create, 0 to update, 0 to delete.");
    }

    #[test]
    fn folds_many_disk_creates() {
        let disk = |i: usize| {
            let name = format!("storage01/lun{i:03}");
            let mut c = ch(Resource::Disk, &name, Create, vec![f("size", None, Some("1GiB"), Live)]);
            c.ops = vec![Op::CreateDisk { path: format!("/r/{name}.img"), size: 1 << 30 }];
            c
        };
        let p = plan(vec![host("h1", (1..=100).map(disk).collect())]);
        let text = human(&p, false);
        assert!(text.contains("\n  + 100 disks storage01/lun001 … lun100 (create, 1GiB each)\n"), "{text}");
        assert_eq!(text.matches("disk").count(), 1);
        let full = human_with(&p, false, true);
        assert_eq!(full.matches("+ disk storage01/lun").count(), 100, "{full}");
        assert!(text.ends_with("Plan: 100 to create, 0 to update, 0 to delete.\n"));
        assert!(json(&p).contains("\"disk/storage01/lun057\"") && json(&p).contains("/r/storage01/lun100.img"));
        let few = human(&plan(vec![host("h1", (1..=5).map(disk).collect())]), false);
        assert_eq!(few.matches("+ disk").count(), 5, "{few}");
    }

    /// A VM given 100 more disks, as the planner makes it: 100 disk creates, then the vm update
    /// whose `disk` field and vm.cfg line hold the whole list.
    fn hundred_disks() -> Plan {
        let entry = |d: &str, i: usize| format!("'file:/OVS/Repositories/r/VirtualDisks/web01_{d}.img,xvd{i},w'");
        let list = |names: &[String]| {
            format!("[{}]", names.iter().enumerate().map(|(i, d)| entry(d, i)).collect::<Vec<_>>().join(", "))
        };
        let old_names = vec!["system".to_string()];
        let new_names: Vec<String> =
            old_names.iter().cloned().chain((1..=100).map(|i| format!("data{i:03}"))).collect();
        let (old, new) = (list(&old_names), list(&new_names));
        let mut changes: Vec<Change> = (1..=100)
            .map(|i| {
                let name = format!("web01/data{i:03}");
                let mut c = ch(Resource::Disk, &name, Create, vec![f("size", None, Some("100GiB"), Live)]);
                c.ops = vec![Op::CreateDisk { path: format!("/r/{name}.img"), size: 100 << 30 }];
                c
            })
            .collect();
        let mut vm = ch(Resource::Vm, "web01", Update, vec![f("disk", Some(&old), Some(&new), NeedsRestart)]);
        let cfg = |disk: &str| format!("name = 'web01'\nmemory = 1024\ndisk = {disk}\nvif = ['bridge=xenbr0']\n");
        vm.file = Some(FileDiff { path: "/r/VirtualMachines/w/vm.cfg".into(), old: cfg(&old), new: cfg(&new) });
        changes.push(vm);
        plan(vec![host("ovs1", changes)])
    }

    #[test]
    fn hundred_new_disks_fit_on_a_screen() {
        let p = hundred_disks();
        let text = human(&p, false);
        let want = "\
domform will perform these actions:

Host ovs1:
  + 100 disks web01/data001 … data100 (create, 100GiB each)
  ~ vm web01 (update, needs restart)
      disk: ['file:/OVS/Repositories/r/VirtualDisks/web01_system.img,xvd0,w'] → [… 101 entries …] (needs restart)
      vm.cfg /r/VirtualMachines/w/vm.cfg:
        --- a/r/VirtualMachines/w/vm.cfg
        +++ b/r/VirtualMachines/w/vm.cfg
        @@ -1,4 +1,4 @@
         name = 'web01'
         memory = 1024
        -disk = ['file:/OVS/Repositories/r/VirtualDisks/web01_system.img,xvd0,w']
        +disk = [… 101 entries …]
         vif = ['bridge=xenbr0']

Plan: 100 to create, 1 to update, 0 to delete.
";
        assert_eq!(text, want);
        assert!(text.len() < 2048, "{} bytes", text.len());
        for i in 1..=100 {
            let name = format!("data{i:03}");
            assert!(text.matches(&name).count() <= 1, "{name} printed twice:\n{text}");
        }
        // -v and JSON keep everything.
        let full = human_with(&p, false, true);
        for i in 1..=100 {
            let name = format!("web01_data{i:03}.img");
            assert_eq!(full.matches(&name).count(), 2, "{name}"); // the field's new value and the + line
            assert!(full.contains(&format!("+ disk web01/data{i:03} (create)")));
        }
        let json = json(&p);
        assert_eq!(serde_json::from_str::<Plan>(&json).ok(), Some(p));
        assert_eq!(json.matches("web01_data042.img").count(), 2, "the field's and the file's new values");
    }

    #[test]
    fn brace_range_of_4096_folds_in_natural_order() {
        // The planner orders changes by id as text: d1, d10, d100, d1000, d1001, …, d999.
        let mut names: Vec<String> = (1..=4096).map(|i| format!("vm1/d{i}")).collect();
        names.sort();
        assert_eq!((names[0].as_str(), names[4095].as_str()), ("vm1/d1", "vm1/d999"));
        let changes = names.iter().map(|n| ch(Resource::Disk, n, Create, vec![f("size", None, Some("1GiB"), Live)]));
        let p = plan(vec![host("h1", changes.collect())]);
        assert_eq!(
            human(&p, false),
            "domform will perform these actions:\n\nHost h1:\n  + 4096 disks vm1/d1 … d4096 (create, 1GiB each)\n\n\
             Plan: 4096 to create, 0 to update, 0 to delete.\n"
        );
    }

    #[test]
    fn long_values_are_summarised_not_cut_mid_list() {
        assert_eq!(list_len("['a', 'b,c', \"d\"]"), Some(3));
        assert_eq!(list_len("[]"), Some(0));
        assert_eq!(list_len("x"), None);
        let long = "x".repeat(200);
        assert_eq!(brief(&long, true), long);
        let xml = format!("+    <url>jdbc:oracle:thin:@(DESCRIPTION=(CONNECT_TIMEOUT=5){}</url>", "(A=B)".repeat(40));
        assert_eq!(brief_diff_line(&xml, false), xml, "a long line that is not a list stays byte for byte");
        assert_eq!(brief(&long, false), long, "only bulk lists fold");
        let few = format!("[{}]", vec![format!("'{}'", "y".repeat(60)); 5].join(", "));
        assert_eq!(brief(&few, false), few);
        let many = format!("[{}]", vec![format!("'{}'", "y".repeat(60)); 6].join(", "));
        assert_eq!(brief(&many, false), "[… 6 entries …]");
    }

    #[test]
    fn redact_weblogic_passwords() {
        let x = "<password-encrypted>{AES}k3Xq9mB0+/a=</password-encrypted>\n<p>{3DES}aP/xScCS8uI=</p> {AES}";
        assert_eq!(
            redact(x),
            "<password-encrypted>{AES}(redacted)</password-encrypted>\n<p>{3DES}(redacted)</p> {AES}"
        );
    }

    #[test]
    fn redact_text() {
        let cfg = "vfb = ['type=vnc,vncpasswd=s3cr3t-VNC,keymap=en-us']\nvncpasswd = 's3cr3t-VNC'\nx = 'vncpasswd='\n";
        let want = "vfb = ['type=vnc,vncpasswd=(redacted),keymap=en-us']\nvncpasswd = '(redacted)'\nx = 'vncpasswd='\n";
        assert_eq!(redact(cfg), want);
        assert_eq!(
            redact("  VNCPASSWD=\"a b\"; vfb = [\"vncpasswd=q\"]"),
            "  VNCPASSWD=\"(redacted)\"; vfb = [\"vncpasswd=(redacted)\"]"
        );
        assert_eq!(redact("no secret: vncpasswd"), "no secret: vncpasswd");
        // What domform planned instead of a value is shown as it is.
        let sealed = "vncpasswd = '(secret: env VNC_PW)'
vfb = ['type=vnc,vncpasswd=(secret: kept from host)']
";
        assert_eq!(redact(sealed), sealed);
    }

    #[test]
    fn secrets_in_no_output() {
        let s = "s3cr3t-VNC";
        let old = format!("vfb = ['type=vnc,vncpasswd={s}']\n");
        let new = format!("vfb = ['type=vnc,vncpasswd={s}2,keymap=en-us']\nvncpasswd = '{s}'\n");
        let vfb = f("vfb", Some(old.trim_end()), new.lines().next(), Live);
        let mut c = ch(Resource::Vm, "web01", Update, vec![f("vncpasswd", Some(s), Some("x"), NeedsRestart), vfb]);
        c.file = Some(FileDiff { path: P.into(), old: old.clone(), new: new.clone() });
        c.ops = vec![Op::WriteFile { path: P.into(), content: new, backup: true, secrets: Vec::new() }];
        let mut h = host("h1", vec![c]);
        h.errors.push(format!("bad line: vncpasswd = '{s}'"));
        let p = plan(vec![h]);
        for out in [human(&p, false), human(&p, true), markdown(&p), json(&p)] {
            assert!(!out.contains(s), "{out}");
            assert!(out.contains(REDACTED));
        }
        assert!(human(&p, false).contains("vncpasswd: (redacted) → (redacted) (needs restart)"));
    }

    #[test]
    fn markdown_details_per_host() {
        let mut p = small();
        p.hosts.push(host("h2", vec![ch(Resource::Power, "x", Stop, vec![])]));
        let md = markdown(&p);
        assert!(md.starts_with(
            "### domform plan\n\n**Plan: 1 to create, 1 to update, 1 to delete, 1 to start, 1 to stop.**\n"
        ));
        assert!(md.contains("<details><summary>Host h1: 4 changes</summary>\n\n```diff\n+ vm db01 (create)\n"));
        assert!(md.contains("<details><summary>Host h2: 1 change</summary>\n\n```diff\n< power x (stop)\n```\n"));
        assert!(md.contains("- ⛔ disk `x` is missing\n- ℹ️ web01 restarts later\n"));
        assert_eq!(md.matches("</details>").count(), 2);
        assert!(!md.contains('\x1b'));
    }

    #[test]
    fn markdown_golden() {
        let mut p = small();
        p.hosts.push(host("h2", vec![ch(Resource::Power, "x", Stop, vec![])]));
        p.hosts.push(host("h3", vec![]));
        let want = "\
### domform plan

**Plan: 1 to create, 1 to update, 1 to delete, 1 to start, 1 to stop.**

| host | create | update | delete | start | stop | errors |
|---|---:|---:|---:|---:|---:|---:|
| h1 | 1 | 1 | 1 | 1 | 0 | 1 |
| h2 | 0 | 0 | 0 | 0 | 1 | 0 |

<details><summary>Host h1: 4 changes</summary>

```diff
+ vm db01 (create)
    memory: 8192
    vcpus: 4
    vm.cfg /OVS/Repositories/r/VirtualMachines/0004fb01/vm.cfg:
--- a/OVS/Repositories/r/VirtualMachines/0004fb01/vm.cfg
+++ b/OVS/Repositories/r/VirtualMachines/0004fb01/vm.cfg
@@ -0,0 +1,3 @@
+      name = 'db01'
+      memory = 8192
+      vcpus = 4
~ vm web01 (update, needs restart)
    memory: 4096 → 8192 (live)
    vif: a → b (needs restart)
    vm.cfg /w/vm.cfg:
--- a/w/vm.cfg
+++ b/w/vm.cfg
@@ -1,6 +1,6 @@
       a = 1
       b = 2
       c = 3
-      d = 4
+      d = 40
       e = 5
       f = 6
> power db01 (start)
    state: stopped → running
- vm old01 (delete)
    ! destroys the VM and deletes its disks (allow_destroy is set)
    vm.cfg: /o/vm.cfg → (removed)
```

- ⛔ disk `x` is missing
- ℹ️ web01 restarts later

</details>

<details><summary>Host h2: 1 change</summary>

```diff
< power x (stop)
```

</details>
";
        assert_eq!(markdown(&p), want);
        let hundred = markdown(&hundred_disks());
        assert!(hundred.contains("| ovs1 | 100 | 1 | 0 |\n"), "{hundred}");
        assert!(hundred.contains("\n+ 100 disks web01/data001 … data100 (create, 100GiB each)\n"), "{hundred}");
        assert!(hundred.len() < 2048, "{} bytes", hundred.len());
        // Strings from hosts are escaped here too: no terminal codes, no new bullet or row.
        let mut hostile = plan(vec![host("h\x1b[2J|<b>", vec![])]);
        hostile.hosts[0].errors.push("a\n- ⛔ fake\x1b[31m".into());
        let md = markdown(&hostile);
        assert!(!md.contains('\x1b'), "{md}");
        assert!(md.contains("| h\\u{1b}[2J\\|&lt;b&gt; | 0 | 0 | 0 | 1 |\n"), "{md}");
        assert!(md.contains("- ⛔ a\n  - ⛔ fake\\u{1b}[31m\n"), "{md}");
    }

    #[test]
    fn json_round_trips() {
        let p = small();
        let text = json(&p);
        assert!(text.starts_with("{\n  \"format_version\": 2,\n  \"hosts\": ["));
        assert_eq!(serde_json::from_str::<Plan>(&text).ok(), Some(p));
    }
}
