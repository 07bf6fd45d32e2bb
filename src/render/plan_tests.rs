//! Golden outputs of the plan renderers: human (symbols, field changes, vm.cfg diffs, causes),
//! JSON (docs/plan-format.md, read back unchanged) and Markdown, from hand-built plans.

use super::*;
use crate::plan::{Action::*, FileDiff, Impact::*};

fn f(name: &str, old: Option<&str>, new: Option<&str>, impact: Impact) -> FieldChange {
    FieldChange { field: name.into(), old: old.map(Into::into), new: new.map(Into::into), impact }
}

/// A change whose impact is the strongest of its fields'.
fn ch(resource: Resource, name: &str, action: Action, fields: Vec<FieldChange>) -> Change {
    let (id, impact) = (format!("{}/{name}", kind(resource)), fields.iter().map(|f| f.impact).max().unwrap_or(Live));
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
    let new_names: Vec<String> = old_names.iter().cloned().chain((1..=100).map(|i| format!("data{i:03}"))).collect();
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
    assert_eq!(redact(x), "<password-encrypted>{AES}(redacted)</password-encrypted>\n<p>{3DES}(redacted)</p> {AES}");
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
    assert!(
        md.starts_with("### domform plan\n\n**Plan: 1 to create, 1 to update, 1 to delete, 1 to start, 1 to stop.**\n")
    );
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
