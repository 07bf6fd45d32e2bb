//! Fixtures shared by the planner-level tests: one hand-written host.

/// `xm info -n` of a 1 socket × 4 cores × 2 threads host (8 logical CPUs, adjacent siblings).
pub fn info_text() -> String {
    let mut s = String::from(
        "host                   : lab1\nnr_cpus                : 8\nnr_nodes               : 1\n\
         cores_per_socket       : 4\nthreads_per_core       : 2\ncpu_mhz                : 2294\n\
         total_memory           : 65536\nfree_memory            : 30000\nxen_major              : 4\n\
         xen_minor              : 4\nxen_extra              : .4OVM\n\
         xen_commandline        : dom0_mem=2G dom0_max_vcpus=2\ncpu_topology           :\n\
         cpu:    core    socket     node\n",
    );
    for cpu in 0..8 {
        s.push_str(&format!("{:3}:{:8} {:8} {:8}\n", cpu, cpu / 2, 0, 0));
    }
    s
}

/// Domain-0's `xm list -l` record, pinned to CPUs 0-1.
pub const DOM0: &str = "(domain\n    (domid 0)\n    (vcpus 2)\n    (cpus ((0 1) (0 1)))\n    (name Domain-0)\n    \
                        (maxmem 2048)\n    (memory 2048)\n    (online_vcpus 2)\n    (image (linux (kernel '')))\n    \
                        (state r-----)\n)\n";
