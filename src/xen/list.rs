//! `xm list` and `xm vcpu-list`: the brief per-domain and per-vCPU tables.
//!
//! `xm list` is the cheap liveness read for `domform list`; `xm vcpu-list` shows where each vCPU
//! runs and its effective affinity, which is what licence audits check. Formats (xend
//! `main.py`): `xm list` rows are `"%-40s %5s %5d %5d %10s %8.1f"`, and the name is never
//! truncated, so rows are read from the right (a managed domain that is not running prints an
//! empty id). `xm vcpu-list` rows are `'%-32s %5s %5d %5s %5s  %8.1f %s'` with an affinity that
//! may contain a space (`any cpu`), so rows are read from the left up to the time column.

use super::domain::DomState;
use super::{fields, XenParseError};
use crate::model::cpuset::{CpuSet, MAX_CPU};

/// One row of `xm list`.
#[derive(Debug, Clone, PartialEq)]
pub struct BriefDomain {
    /// Domain name.
    pub name: String,
    /// Domain id; `None` for a managed domain that is not running.
    pub id: Option<u32>,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// vCPUs (online vCPUs when running).
    pub vcpus: u32,
    /// The six state flags.
    pub state: DomState,
    /// CPU seconds used.
    pub cpu_time: f64,
}

/// One row of `xm vcpu-list`.
#[derive(Debug, Clone, PartialEq)]
pub struct VcpuRow {
    /// Domain name.
    pub name: String,
    /// Domain id; `None` when printed empty (domain not running).
    pub id: Option<u32>,
    /// vCPU number within the domain.
    pub vcpu: u32,
    /// Physical CPU it is on; `None` when offline (`-`) or not running (empty).
    pub cpu: Option<u32>,
    /// xm's 3-character vCPU state (`r--`, `-b-`, `--p` offline), or empty.
    pub state: String,
    /// CPU seconds used.
    pub time: f64,
    /// Effective affinity (`any cpu` expanded to all host CPUs, `no cpus` empty).
    pub affinity: CpuSet,
}

/// Parses plain `xm list` (or `xl list`) output; the first non-blank line is the header.
pub fn parse_xm_list(text: &str) -> Result<Vec<BriefDomain>, XenParseError> {
    rows(text)?.map(|(line_no, line)| brief_row(line).map_err(|m| XenParseError::new(line_no, m))).collect()
}

fn brief_row(line: &str) -> Result<BriefDomain, String> {
    let f = fields(line);
    let n = f.len();
    if n < 5 {
        return Err(format!("expected `name [id] mem vcpus state time`, found `{}`", line.trim()));
    }
    let (mem, vcpus, state, time) = (f[n - 4].1, f[n - 3].1, f[n - 2].1, f[n - 1].1);
    let (id, name_end) = if n == 5 {
        (None, f[1].0)
    } else {
        let id = f[n - 5].1.parse::<u32>().map_err(|_| format!("id `{}` is not a whole number", f[n - 5].1))?;
        (Some(id), f[n - 5].0)
    };
    Ok(BriefDomain {
        name: line[..name_end].trim().to_string(),
        id,
        memory_mib: mem.parse().map_err(|_| format!("memory `{mem}` is not a whole number"))?,
        vcpus: vcpus.parse().map_err(|_| format!("vcpus `{vcpus}` is not a whole number"))?,
        state: DomState::parse(brief_state(state))?,
        cpu_time: seconds(time)?,
    })
}

/// xm prints six flags; one published transcript (the OVM quiz sample) shows `r------`, so
/// trailing `-` beyond six are tolerated. Anything else goes to [`DomState::parse`] as is.
fn brief_state(state: &str) -> &str {
    match state.char_indices().nth(6) {
        Some((cut, _)) if state[cut..].chars().all(|c| c == '-') => &state[..cut],
        _ => state,
    }
}

/// Parses `xm vcpu-list` output; `nr_cpus` (from `xm info`) expands `any cpu`.
pub fn parse_vcpu_list(text: &str, nr_cpus: u32) -> Result<Vec<VcpuRow>, XenParseError> {
    rows(text)?.map(|(line_no, line)| vcpu_row(line, nr_cpus).map_err(|m| XenParseError::new(line_no, m))).collect()
}

fn vcpu_row(line: &str, nr_cpus: u32) -> Result<VcpuRow, String> {
    let f = fields(line);
    let shape = "expected `name id vcpu cpu state time affinity`";
    let Some(time_at) = f.iter().skip(1).position(|(_, t)| t.contains('.') && t.parse::<f64>().is_ok()).map(|i| i + 1)
    else {
        return Err(format!("{shape}, found no time in `{}`", line.trim()));
    };
    let Some(&(affinity_at, _)) = f.get(time_at + 1) else {
        return Err(format!("{shape}, found no affinity in `{}`", line.trim()));
    };
    let middle: Vec<&str> = f[1..time_at].iter().map(|(_, t)| *t).collect();
    // Shapes xm prints: `id vcpu cpu state`; empty id (not running): `vcpu cpu state`; a vCPU
    // with no CPU prints empty cpu and state: `id vcpu` or just `vcpu`.
    let (id, vcpu, cpu, state) = match middle[..] {
        [id, vcpu, cpu, state] => (Some(id), vcpu, Some(cpu), state),
        [vcpu, cpu, state] => (None, vcpu, Some(cpu), state),
        [id, vcpu] => (Some(id), vcpu, None, ""),
        [vcpu] => (None, vcpu, None, ""),
        _ => return Err(format!("{shape}, found `{}`", line.trim())),
    };
    let whole = |what: &str, t: &str| t.parse::<u32>().map_err(|_| format!("{what} `{t}` is not a whole number"));
    let cpu = match cpu {
        None | Some("-") => None,
        Some(c) => Some(whole("cpu", c)?),
    };
    if nr_cpus > MAX_CPU + 1 {
        return Err(format!("nr_cpus {nr_cpus} is beyond {}", MAX_CPU + 1));
    }
    let affinity_text = line[affinity_at..].trim();
    Ok(VcpuRow {
        name: f[0].1.to_string(),
        id: id.map(|i| whole("id", i)).transpose()?,
        vcpu: whole("vcpu", vcpu)?,
        cpu,
        state: state.to_string(),
        time: seconds(f[time_at].1)?,
        affinity: CpuSet::parse_affinity(affinity_text, nr_cpus)
            .map_err(|e| format!("affinity `{affinity_text}`: {e}"))?,
    })
}

/// The non-blank lines after the `Name …` header, numbered from 1.
fn rows(text: &str) -> Result<impl Iterator<Item = (usize, &str)>, XenParseError> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l)).filter(|(_, l)| !l.trim().is_empty());
    match lines.next() {
        None => Ok(lines),
        Some((_, header)) if header.split_whitespace().next() == Some("Name") => Ok(lines),
        Some((n, other)) => {
            Err(XenParseError::new(n, format!("expected the `Name …` header, found `{}`", other.trim())))
        }
    }
}

fn seconds(t: &str) -> Result<f64, String> {
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("time `{t}` is not a number of seconds")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xen::testutil::{mutations, section};

    const LIST: &str = include_str!("../../tests/fixtures/xen-cli/xm-list.txt");
    const VCPU: &str = include_str!("../../tests/fixtures/xen-cli/xm-vcpu-list.txt");

    /// A section from its `Name` header on (drops the shell prompt of source B).
    fn table(tag: &str) -> String {
        let s = section(LIST, tag);
        s.lines().skip_while(|l| !l.trim_start().starts_with("Name")).map(|l| format!("{l}\n")).collect()
    }

    #[test]
    fn exadata_list() {
        let doms = parse_xm_list(&table("A")).expect("parses");
        assert_eq!(doms.len(), 8);
        assert_eq!(
            doms[0],
            BriefDomain {
                name: "Domain-0".into(),
                id: Some(0),
                memory_mib: 8746,
                vcpus: 4,
                state: DomState::parse("r-----").expect("valid"),
                cpu_time: 2145201.6,
            }
        );
        assert_eq!(doms[4].name, "scaqab10adm01vm07.us.oracle.com");
        assert_eq!((doms[4].id, doms[4].memory_mib, doms[4].vcpus), (Some(11), 92163, 10));
        assert!(doms[4].state.blocked);
        assert_eq!(doms[3].cpu_time, 51637.6);
        assert_eq!((doms[6].name.as_str(), doms[6].id), ("abcd#43", Some(3)));
    }

    #[test]
    fn ovm_quiz_list_not_column_exact() {
        let doms = parse_xm_list(&table("B")).expect("parses");
        let got: Vec<_> = doms.iter().map(|d| (d.name.as_str(), d.id, d.memory_mib, d.vcpus, d.state.word())).collect();
        assert_eq!(
            got,
            vec![
                ("0004fb000006000041b397779495f2aa", Some(2), 4096, 2, "running"),
                ("0004fb000006000002d5e09d9ec70ac4", Some(1), 2048, 2, "running"),
                ("Domain-0", Some(0), 821, 6, "running"),
            ]
        );
        assert!(doms[2].state.running && doms[2].cpu_time == 7048.0);
    }

    #[test]
    fn man_page_list() {
        let doms = parse_xm_list(&table("D")).expect("parses");
        assert_eq!(doms.len(), 4);
        assert_eq!((doms[1].name.as_str(), doms[1].id, doms[1].memory_mib), ("Fedora3", Some(164), 128));
        assert_eq!(doms[2].state, DomState::default());
        assert_eq!(doms[3].state.to_string(), "-b----");
    }

    #[test]
    fn long_names_and_stopped_domains() {
        let long = "a".repeat(52);
        let text = format!(
            "{:<40} {:>5} {:>5} {:>5} {:>10} {:>9}\n{long:<40} {:>5} {:>5} {:>5} {:>10} {:>8.1}\n{:<40} {:>5} {:>5} {:>5} {:>10} {:>8.1}\n",
            "Name", "ID", "Mem", "VCPUs", "State", "Time(s)", "12", 1024, 2, "-b----", 3.5, "stopped", "", 512, 1, "------", 0.0
        );
        let doms = parse_xm_list(&text).expect("parses");
        assert_eq!((doms[0].name.as_str(), doms[0].id, doms[0].memory_mib), (long.as_str(), Some(12), 1024));
        assert_eq!((doms[1].name.as_str(), doms[1].id, doms[1].memory_mib, doms[1].vcpus), ("stopped", None, 512, 1));
    }

    #[test]
    fn list_errors_name_the_line() {
        let e =
            parse_xm_list("Name ID Mem VCPUs State Time(s)\nDomain-0 0 98 1 r----- 5068.6\nx 1 lots 1 r----- 1.0\n")
                .expect_err("bad mem");
        assert_eq!(e.to_string(), "line 3: memory `lots` is not a whole number");
        assert_eq!(parse_xm_list("Domain-0 0 98 1 r----- 5.0").expect_err("no header").line, 1);
        assert_eq!(parse_xm_list("Name\nx 1 2 r-- 1.0").expect_err("state").line, 2);
        assert_eq!(parse_xm_list("Name\nx y 1 2 r----- 1.0").expect_err("id").line, 2);
        assert_eq!(parse_xm_list("Name\nx 1 2 r-----r 1.0").expect_err("state").line, 2);
        assert!(parse_xm_list("").expect("empty").is_empty());
    }

    #[test]
    fn book_of_xen_vcpu_list() {
        let rows = parse_vcpu_list(&section(VCPU, "A"), 4).expect("parses");
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[1],
            VcpuRow {
                name: "horatio".into(),
                id: Some(16),
                vcpu: 1,
                cpu: Some(2),
                state: "r--".into(),
                time: 139968.3,
                affinity: CpuSet::from_cpus(0..4),
            }
        );
        assert_eq!((rows[0].vcpu, rows[0].cpu, rows[0].state.as_str()), (0, Some(0), "---"));
    }

    #[test]
    fn vcpu_list_pinned_offline_and_stopped() {
        let text = "\
Name                                ID  VCPU   CPU State   Time(s) CPU Affinity
Domain-0                             0     0     0   r--  1234.5 0-3
0004fb00000600007c522c7d71072a52     5     0    18   -b-    12.0 18-95
0004fb00000600007c522c7d71072a52     5     1     -   --p     0.0 18-95,^20
some-very-long-domain-name-longer-than-32    7     0     2   -b-     1.0 no cpus
stopped                                    0                  0.0 any cpu
";
        let rows = parse_vcpu_list(text, 96).expect("parses");
        assert_eq!(rows[0].affinity.to_string(), "0-3");
        assert_eq!((rows[1].cpu, rows[1].affinity.len()), (Some(18), 78));
        assert_eq!((rows[2].cpu, rows[2].state.as_str()), (None, "--p"));
        assert!(!rows[2].affinity.contains(20));
        assert_eq!((rows[3].id, rows[3].cpu), (Some(7), Some(2)));
        assert!(rows[3].affinity.is_empty());
        assert_eq!((rows[4].name.as_str(), rows[4].id, rows[4].vcpu, rows[4].cpu), ("stopped", None, 0, None));
        assert_eq!(rows[4].affinity.len(), 96);
    }

    #[test]
    fn vcpu_list_errors_name_the_line() {
        let head = "Name ID VCPU CPU State Time(s) CPU Affinity\n";
        assert_eq!(parse_vcpu_list(&format!("{head}x 1 0 0 r-- 1.0"), 4).expect_err("no affinity").line, 2);
        assert_eq!(parse_vcpu_list(&format!("{head}\nx 1 0 0 r-- 1.0 9-2"), 4).expect_err("bad set").line, 3);
        assert_eq!(parse_vcpu_list(&format!("{head}x 1 0 0 r-- 1 any cpu"), 4).expect_err("no time").line, 2);
        assert_eq!(parse_vcpu_list(&format!("{head}x a 0 0 r-- 1.0 any cpu"), 4).expect_err("id").line, 2);
        assert!(parse_vcpu_list(&format!("{head}x 1 0 0 r-- 1.0 any cpu"), u32::MAX).is_err());
    }

    #[test]
    fn mutations_never_panic() {
        for tag in ["A", "B", "D"] {
            for m in mutations(&table(tag), 2000) {
                let _ = parse_xm_list(&m);
            }
        }
        for m in mutations(&section(VCPU, "A"), 3000) {
            let _ = parse_vcpu_list(&m, 72);
        }
    }
}
