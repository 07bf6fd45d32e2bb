//! Splitting the observe script's output back into sections.

/// One section: kind, argument, body (as printed), and the command's exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// `info`, `domains-sxp`, `cfg`, …
    pub kind: String,
    /// The path or `-`.
    pub arg: String,
    /// What the command printed (stdout and stderr).
    pub body: String,
    /// Exit status; `None` when the output ended inside the section (a cut connection).
    pub status: Option<i32>,
}

/// Splits output at marker lines. Text outside sections is ignored (shell noise such as a
/// motd printed by a login script).
pub fn split(output: &str, marker: &str) -> Vec<Section> {
    let mut out = Vec::new();
    let mut current: Option<(String, String, String)> = None;
    let prefix = format!("{marker} ");
    for line in output.split_inclusive('\n') {
        let bare = line.strip_suffix('\n').unwrap_or(line);
        let Some(rest) = bare.strip_prefix(&prefix) else {
            if let Some((_, _, body)) = current.as_mut() {
                body.push_str(line);
            }
            continue;
        };
        if let Some(code) = rest.strip_prefix("rc ") {
            if let Some((kind, arg, mut body)) = current.take() {
                // The script prints one newline before the rc marker so it starts a line.
                if body.ends_with('\n') {
                    body.pop();
                }
                out.push(Section { kind, arg, body, status: code.trim().parse().ok() });
            }
        } else {
            if let Some((kind, arg, body)) = current.take() {
                out.push(Section { kind, arg, body, status: None });
            }
            let (kind, arg) = rest.split_once(' ').unwrap_or((rest, "-"));
            current = Some((kind.to_string(), arg.to_string(), String::new()));
        }
    }
    if let Some((kind, arg, body)) = current {
        out.push(Section { kind, arg, body, status: None });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_keeps_bodies_exact() {
        let m = "@@domform-1";
        let out = format!(
            "motd\n{m} info -\nnr_cpus : 8\n\n{m} rc 0\n{m} cfg /a/vm.cfg\nx = 1\n\n\n{m} rc 0\n{m} cfg /b/vm.cfg\nno newline\n{m} rc 0\n{m} disks /r\n"
        );
        let s = split(&out, m);
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].body, "nr_cpus : 8\n");
        assert_eq!(s[1].arg, "/a/vm.cfg");
        assert_eq!(s[1].body, "x = 1\n\n");
        assert_eq!(s[2].body, "no newline");
        assert_eq!(s[3].status, None);
    }

    #[test]
    fn fake_markers_in_content_need_the_nonce() {
        let s = split("@@domform-1 cfg /a\n@@domform-2 rc 0\nx\n@@domform-1 rc 0\n", "@@domform-1");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].body, "@@domform-2 rc 0\nx");
    }
}
