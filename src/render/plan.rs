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
        let label = if c.resource == Resource::Manager {
            "file"
        } else if fd.path.ends_with("/domain.xml") {
            "domain XML"
        } else {
            "vm.cfg"
        };
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
#[path = "plan_tests.rs"]
mod tests;
