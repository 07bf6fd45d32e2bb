//! The pipeline scripts in `contrib/ci/` run here, under a POSIX shell (dash when installed),
//! against a local simulated host (`tests/common/simhost.rs`: `transport: local`, this binary
//! as `xm`) with a fake `curl` that records the request instead of posting it.

#[path = "common/simhost.rs"]
mod simhost;

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};
use simhost::{SimHost, Topology};

/// Records its arguments (one a line) and the files given as `@file` into `$FAKE_CURL_LOG/`;
/// exits `$FAKE_CURL_EXIT` (0).
const FAKE_CURL: &str = r#"#!/bin/sh
log=${FAKE_CURL_LOG:?}
mkdir -p "$log"
prev=
for a in "$@"; do
  printf '%s\n' "$a" >>"$log/args"
  case "$prev:$a" in
    --header:@*) cat "${a#@}" >>"$log/headers" ;;
    --data-binary:@*) cat "${a#@}" >"$log/body" ;;
  esac
  prev=$a
done
exit "${FAKE_CURL_EXIT:-0}"
"#;

struct Ci {
    host: SimHost,
    work: PathBuf,
}

fn shell() -> &'static str {
    if Path::new("/bin/dash").exists() || Path::new("/usr/bin/dash").exists() {
        "dash"
    } else {
        "sh"
    }
}

impl Ci {
    fn new() -> Ci {
        let host = SimHost::new("0004fb0000030000aaaaaaaaaaaaaaaa", &Topology::default());
        let work = host.root().join("work");
        std::fs::create_dir_all(&work).expect("mkdir");
        let curl = host.root().join("bin/fake-curl");
        std::fs::write(&curl, FAKE_CURL).expect("fake curl");
        std::fs::set_permissions(&curl, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
        let yaml = format!(
            "hosts:\n  h1:\n    transport: local\n    repository: {}\nvms:\n  web01:\n    host: h1\n    memory: 256MiB\n    \
             vcpus: 1\n    disks:\n      - {{ name: system, size: 8MiB }}\n",
            host.repo().display()
        );
        std::fs::write(work.join("domform.yaml"), yaml).expect("yaml");
        Ci { host, work }
    }

    /// Runs `contrib/ci/<script>` in the work folder with the simulator and `env`.
    fn script(&self, script: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/ci").join(script);
        let out = Command::new(shell())
            .arg(path)
            .args(args)
            .current_dir(&self.work)
            .env_clear()
            .envs(self.host.env())
            .env("DOMFORM", env!("CARGO_BIN_EXE_domform"))
            .env("CURL", self.host.root().join("bin/fake-curl"))
            .env("FAKE_CURL_LOG", self.log())
            .envs(env.iter().copied())
            .output()
            .expect("run script");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), text)
    }

    fn log(&self) -> PathBuf {
        self.host.root().join("curl-log")
    }

    fn logged(&self, name: &str) -> String {
        std::fs::read_to_string(self.log().join(name)).unwrap_or_default()
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.work.join(name)).expect(name)
    }

    fn domform(&self, args: &[&str]) -> simhost::Run {
        let f = self.work.join("domform.yaml").display().to_string();
        let mut all = args.to_vec();
        all.extend(["-f", &f]);
        self.host.domform(&all, &[])
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn plan_comment_posts_the_markdown_plan_to_github_with_the_token_off_the_command_line() {
    let ci = Ci::new();
    let env = [
        ("PR_NUMBER", "7"),
        ("GITHUB_TOKEN", "ghs_secret-token"),
        ("GITHUB_REPOSITORY", "acme/estate"),
        ("GITHUB_API_URL", "http://api.invalid"),
    ];
    let (code, out) = ci.script("plan-comment.sh", &[], &env);
    assert_eq!(code, 2, "changes pending:\n{out}");
    let comment = ci.read("plan-comment.md");
    let plan = std::fs::read(ci.work.join("plan.json")).expect("saved plan");
    assert!(comment.contains(&format!("sha256 <code>{}</code>", sha256_hex(&plan))), "{comment}");
    assert!(comment.contains("web01"), "{comment}");
    let args = ci.logged("args");
    assert!(args.lines().any(|l| l == "http://api.invalid/repos/acme/estate/issues/7/comments"), "{args}");
    assert!(!args.contains("ghs_secret-token"), "the token was on curl's command line:\n{args}");
    assert_eq!(ci.logged("headers"), "Authorization: Bearer ghs_secret-token\n");
    let body: serde_json::Value = serde_json::from_str(&ci.logged("body")).expect("the body is JSON");
    assert_eq!(body["body"].as_str().map(|b| b.trim_end()), Some(comment.trim_end()), "the comment, whole");
    assert!(!out.contains("ghs_secret-token"), "{out}");
}

#[test]
fn plan_comment_posts_a_gitlab_note_and_fails_when_the_post_fails() {
    let ci = Ci::new();
    let mut env = vec![
        ("CI_MERGE_REQUEST_IID", "12"),
        ("CI_PROJECT_ID", "345"),
        ("CI_API_V4_URL", "http://gitlab.invalid/api/v4"),
        ("GITLAB_TOKEN", "glpat-secret"),
    ];
    let (code, out) = ci.script("plan-comment.sh", &[], &env);
    assert_eq!(code, 2, "{out}");
    assert!(ci.logged("args").contains("http://gitlab.invalid/api/v4/projects/345/merge_requests/12/notes"));
    assert_eq!(ci.logged("headers"), "PRIVATE-TOKEN: glpat-secret\n");
    env.push(("FAKE_CURL_EXIT", "22"));
    let (code, out) = ci.script("plan-comment.sh", &[], &env);
    assert_eq!(code, 1, "a failed post fails the job:\n{out}");
    assert!(
        out.contains("posting the comment to http://gitlab.invalid/api/v4/projects/345/merge_requests/12/notes failed")
    );
}

#[test]
fn plan_comment_without_a_platform_only_writes_the_comment_and_reports_errors() {
    let ci = Ci::new();
    let (code, out) = ci.script("plan-comment.sh", &[], &[("MAX_CHARS", "65536")]);
    assert_eq!(code, 2, "{out}");
    assert!(ci.logged("args").is_empty(), "nothing posted");
    assert!(out.contains("the comment is in plan-comment.md"), "{out}");
    let (code, out) = ci.script("plan-comment.sh", &[], &[("DOMFORM_FILE", "missing.yaml")]);
    assert_eq!(code, 1, "{out}");
    assert!(ci.read("plan-comment.md").starts_with("### domform plan failed (exit 1)"), "{out}");
}

#[test]
fn apply_saved_applies_exactly_the_reviewed_plan_and_refuses_a_stale_or_swapped_one() {
    let ci = Ci::new();
    let (code, out) = ci.script("plan-comment.sh", &[], &[]);
    assert_eq!(code, 2, "{out}");
    let hash = sha256_hex(&std::fs::read(ci.work.join("plan.json")).expect("plan"));
    let (code, out) = ci.script("apply-saved.sh", &["plan.json"], &[("PLAN_SHA256", &"0".repeat(64))]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not the reviewed"), "{out}");
    let (code, out) = ci.script("apply-saved.sh", &[], &[("PLAN_SHA256", &hash)]);
    assert_eq!(code, 0, "the reviewed plan applies:\n{out}");
    let again = ci.domform(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "converged: {}{}", again.out, again.err);

    // A plan made, then the host changed by someone else: the saved plan is stale.
    let (code, out) = ci.script("plan-comment.sh", &[], &[]);
    assert_eq!(code, 0, "{out}");
    let yaml = ci.read("domform.yaml").replace("memory: 256MiB", "memory: 384MiB");
    std::fs::write(ci.work.join("domform.yaml"), yaml).expect("yaml");
    let (code, out) = ci.script("plan-comment.sh", &[], &[]);
    assert_eq!(code, 2, "{out}");
    let cfg = ci.host.vm_cfg("web01").expect("vm.cfg").0;
    let text = std::fs::read_to_string(&cfg).expect("vm.cfg");
    std::fs::write(&cfg, text.replace("memory = 256", "memory = 300")).expect("edit");
    let (code, out) = ci.script("apply-saved.sh", &[], &[]);
    assert_eq!(code, 1, "a stale plan is refused:\n{out}");
    assert!(out.contains("stale plan needs a new plan"), "{out}");
    assert!(std::fs::read_to_string(&cfg).expect("vm.cfg").contains("memory = 300"), "nothing applied");
}
