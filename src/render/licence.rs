//! `domform licence`: the hard-partitioning report as a table, JSON or CSV.

use serde::Serialize;

use crate::licence::GroupOnHost;

/// The table.
pub fn table(rows: &[GroupOnHost]) -> String {
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let vms: Vec<String> =
                r.vms.iter().map(|m| format!("{}:{}", m.vm, m.threads.as_deref().unwrap_or("unpinned"))).collect();
            vec![
                r.host.clone(),
                r.group.clone(),
                vms.join(" "),
                if r.unpinned.is_empty() { r.threads.clone() } else { "all (unpinned)".into() },
                format!("{}/{}", r.cores, r.host_cores),
                format!("{}", r.core_factor),
                r.licences.to_string(),
                r.max_cores.map(|m| m.to_string()).unwrap_or_else(|| "-".into()),
                status(r),
            ]
        })
        .collect();
    let mut out = super::table::render(
        &["HOST", "GROUP", "VMS (threads)", "THREADS", "CORES/HOST", "FACTOR", "LICENCES", "MAX_CORES", "STATUS"],
        &body,
    );
    let total: u32 = rows.iter().map(|r| r.licences).sum();
    out.push_str(&format!("\nTotal: {total} processor licence(s) over {} group/host pair(s).\n", rows.len()));
    out
}

fn status(r: &GroupOnHost) -> String {
    match (&r.error, r.violation, r.unpinned.is_empty()) {
        (Some(e), _, _) => format!("error: {e}"),
        (None, true, _) => format!("VIOLATION: {} > max_cores {}", r.cores, r.max_cores.unwrap_or(0)),
        (None, false, false) => format!("unpinned: {}", r.unpinned.join(", ")),
        (None, false, true) => "ok".into(),
    }
}

/// JSON: `{"format_version": 1, "groups": [...]}`.
pub fn json(rows: &[GroupOnHost]) -> String {
    #[derive(Serialize)]
    struct Doc<'a> {
        format_version: u32,
        groups: &'a [GroupOnHost],
    }
    serde_json::to_string_pretty(&Doc { format_version: 1, groups: rows }).unwrap_or_default() + "\n"
}

/// Each counted core as `socket:core(threads)[vms]`, separated by `;`.
fn core_detail(r: &GroupOnHost) -> String {
    let cores: Vec<String> = r
        .core_detail
        .iter()
        .map(|c| {
            let threads: Vec<String> = c.threads.iter().map(u32::to_string).collect();
            format!("{}:{}({})[{}]", c.socket, c.core, threads.join(" "), c.vms.join(" "))
        })
        .collect();
    cores.join(";")
}

/// CSV with a header row; fields with commas or quotes are quoted.
pub fn csv(rows: &[GroupOnHost]) -> String {
    let q =
        |s: &str| if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() };
    let mut out = String::from(
        "host,group,vms,unpinned,threads,cores,host_cores,core_factor,licences,max_cores,violation,core_detail\n",
    );
    for r in rows {
        let vms: Vec<&str> = r.vms.iter().map(|m| m.vm.as_str()).collect();
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{}\n",
            q(&r.host),
            q(&r.group),
            q(&vms.join(" ")),
            q(&r.unpinned.join(" ")),
            q(&r.threads),
            r.cores,
            r.host_cores,
            r.core_factor,
            r.licences,
            r.max_cores.map(|m| m.to_string()).unwrap_or_default(),
            r.violation,
            q(&core_detail(r))
        ));
    }
    out
}
