#!/usr/bin/env python3
"""Regenerates fuzz/corpus/<target>/ seeds from the project's fixtures and examples.

Run from anywhere: python3 fuzz/make-seeds.py. Seeds are small, real inputs; libFuzzer's own
discoveries go to a scratch corpus (see run-ci.sh) and are not kept in git.
"""
import glob
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
MARKER = "@@domform-0123456789abcdef"  # = checks::MARKER
REPO = "/OVS/Repositories/0004fb0000030000a3ff6bbfe68511a6"


def put(target, name, text):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "w", encoding="utf-8") as f:
        f.write(text)


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def samples(text):
    """The `# SOURCE` sections of a fixture, without `#` notes, and the whole file."""
    out, cur = [], []
    for line in text.splitlines(keepends=True):
        if line.startswith("# SOURCE"):
            if cur:
                out.append("".join(cur))
            cur = []
        elif not line.startswith("#"):
            cur.append(line)
    if cur:
        out.append("".join(cur))
    return [s for s in out if s.strip()] + [text]


def section(kind, arg, body, rc=0):
    return f"{MARKER} {kind} {arg}\n{body}\n{MARKER} rc {rc}\n"


cfgs = sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/vm.cfg/*.cfg")))
for p in cfgs:
    put("vmcfg_parse", os.path.basename(p), read(p))

xen = {}
for p in sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/xen-cli/*.txt"))):
    base = os.path.splitext(os.path.basename(p))[0]
    parts = samples(read(p))
    xen[base] = parts
    for i, s in enumerate(parts):
        put("xm_outputs", f"{base}-{i}.txt", s)

for p in sorted(glob.glob(os.path.join(ROOT, "examples/*.yaml"))) + sorted(
    glob.glob(os.path.join(ROOT, "tests/fixtures/invalid/*.yaml"))
):
    put("yaml_load", os.path.basename(p), read(p))

# observe_output: the observe script's stdout, as an xm host and as an xl host would print it.
info = xen["xm-info"][0]
sxp = xen["xm-list-long-sxp"][0]
brief = re.sub(r"^.*?(?=Name)", "", xen["xm-list"][0], flags=re.S)
vcpus = re.sub(r"^.*?(?=Name)", "", xen["xm-vcpu-list"][0], flags=re.S)
cfg = read(cfgs[0]) if cfgs else "name = 'x'\n"
common = (
    section("fs", REPO, "ocfs2\n/dev/sdb 1000000 1000 999000 1% " + REPO)
    + section("ovsrepo", REPO, "OVS_REPO_ALIAS=repo1\nOVS_REPO_UUID=0004fb\n")
    + section("disks", REPO, f"10737418240 2097152 {REPO}/VirtualDisks/a.img\n")
    + section("snapshots", REPO, f"{REPO}/Snapshots/app01/s1")
    + section(
        "snapmanifest",
        f"{REPO}/Snapshots/app01/s1/manifest",
        "vm=app01\nname=s1\ncreated=2024-01-02T03:04:05Z\nmade_by=domform\nrunning=false\n"
        f"cfg={REPO}/VirtualMachines/x/vm.cfg\nmemory=\ndisk=/a.img|s1-a.img|10737418240\n",
    )
    + section("cfg", f"{REPO}/VirtualMachines/0004fb00000600001234/vm.cfg", cfg)
    + section("paths", "-", "10737418240 2097152 /OVS/disk.img\n")
)
put("observe_output", "xm-host.txt", "Last login: today\n" + section("info", "-", info) + section("domains-sxp", "-", sxp) + common)
put("observe_output", "xl-host.txt", section("info", "-", info) + section("list", "-", brief) + section("vcpus", "-", vcpus) + common)
put("observe_output", "cut-short.txt", section("info", "-", info) + f"{MARKER} domains-sxp -\n(domain (domid 0)")
put("observe_output", "failed.txt", section("info", "-", "Error: xend not running", 1) + section("cfg", "/x/vm.cfg", "cat: no such file", 1))

# snapshot_manifest: a manifest domform writes, and ones an attacker might plant.
SNAP = "/OVS/Repositories/r/VirtualDisks"
put("snapshot_manifest", "domform.txt",
    "format=1\nmade_by=domform\nvm=app01\nname=s1\ncreated=2024-01-02T03:04:05Z\nrunning=true\n"
    f"cfg=/OVS/Repositories/r/VirtualMachines/app01/vm.cfg\nmemory=memory.save\n"
    f"disk={SNAP}/a.img|disks/00-a.img|1048576\ndisk={SNAP}/b.img|disks/01-b.img|2048\n")
put("snapshot_manifest", "planted-target.txt", "made_by=domform\nvm=app01\ndisk=/etc/passwd|disks/00-passwd|5\n")
put("snapshot_manifest", "planted-file.txt", f"vm=app01\ndisk={SNAP}/a.img|../../../../etc/shadow|5\n")

# yaml_load: the resource limits (nested aliases, deep nesting).
laughs = 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9))
put("yaml_load", "billion-laughs.yaml", laughs)
put("yaml_load", "deep.yaml", "vms: " + "[" * 100 + "]" * 100 + "\n")
put("snapshot_manifest", "spaces.txt", f"made_by=domform\nvm=DB Server 01\nname=s1\ndisk={SNAP}/a.img|disks/00-a.img|1\n")

# yaml_load: names with spaces (OVM simple names).
put("yaml_load", "names-with-spaces.yaml",
    "hosts:\n  h1: { address: h1.example.com, repository: /OVS/Repositories/r }\n"
    "vms:\n  DB Server 01:\n    host: h1\n    memory: 1GiB\n    vcpus: 1\n"
    "    disks: [{ name: system, size: 8GiB }]\n  \"web front 2\": { host: h1, memory: 1GiB, vcpus: 1 }\n"
    "licences:\n  oracle: { vms: [DB Server 01], max_cores: 2 }\n")
