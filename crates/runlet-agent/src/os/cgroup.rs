//! Container cgroups: memory and CPU limits, CPU weights, and OOM-kill detection.
//!
//! cgroup v2 (the unified hierarchy with the `memory` controller) is preferred; on hosts that
//! still mount the v1 `memory`/`cpu` hierarchies those are used. Each container attempt with a
//! limit or a CPU request gets `runlet/<id>` in every hierarchy it needs, its CPU weight that of
//! its request (the least, 2 shares, without one), as the kubelet sets every container's; one
//! with neither joins `runlet/besteffort`, whose weight is the least, as upstream's BestEffort
//! QoS cgroup: it asked for nothing, and yields to containers that asked for CPU. (A cgroup of
//! its own would cost such a container a `mkdir` and an `rmdir`.) `runlet/` itself weighs the
//! machine's CPUs, as upstream's `kubepods` weighs the node's allocatable CPU against the
//! system's daemons. The child joins by writing `0` before it runs the program: to
//! `cgroup.procs` on v2, and to `tasks` on v1. The child is one thread then, so either moves the
//! whole process, but a v1 kernel write-locks its global threadgroup semaphore for a write to
//! `cgroup.procs`, which waits out an RCU grace period (milliseconds, with the agent's thread
//! suspended by the `vfork`), while moving only the writing thread through `tasks` takes no
//! such lock. Where neither hierarchy is usable (not root,
//! read-only, absent) limits are skipped and the reason is logged once.

use super::{CgroupPlacement, Limits, OsError};
use std::path::{Path, PathBuf};

const V2_ROOT: &str = "/sys/fs/cgroup";
const V1_ROOT: &str = "/sys/fs/cgroup";
const CPU_PERIOD_US: u64 = 100_000;
/// The group of the containers that have no cgroup of their own.
const SHARED: &str = "besteffort";

/// Which cgroup hierarchy is used.
#[derive(Debug)]
pub enum Cgroups {
    V2 {
        root: PathBuf,
    },
    V1 {
        memory: PathBuf,
        cpu: Option<PathBuf>,
    },
    Unavailable(String),
}

fn write(path: &Path, value: &str) -> Result<(), OsError> {
    std::fs::write(path, value).map_err(|source| OsError::Cgroup {
        path: path.display().to_string(),
        source,
    })
}

fn mkdir(path: &Path) -> Result<(), OsError> {
    std::fs::create_dir_all(path).map_err(|source| OsError::Cgroup {
        path: path.display().to_string(),
        source,
    })
}

impl Cgroups {
    /// The file of a cgroup directory that a single-threaded child writes `0` to, to join it.
    fn join_file(&self) -> &'static str {
        match self {
            Cgroups::V1 { .. } => "tasks",
            Cgroups::V2 { .. } | Cgroups::Unavailable(_) => "cgroup.procs",
        }
    }

    /// Finds a usable hierarchy under `/sys/fs/cgroup`.
    pub fn detect(root: bool) -> Cgroups {
        let found = if !root {
            Cgroups::Unavailable("the agent is not running as root".into())
        } else {
            Self::detect_at(Path::new(V2_ROOT), Path::new(V1_ROOT))
        };
        if let Cgroups::Unavailable(why) = &found {
            tracing::warn!(reason = %why, "resource limits will not be enforced");
        }
        found
    }

    fn detect_at(v2: &Path, v1: &Path) -> Cgroups {
        let controllers =
            std::fs::read_to_string(v2.join("cgroup.controllers")).unwrap_or_default();
        if controllers.split_whitespace().any(|c| c == "memory") {
            let root = v2.join("runlet");
            let setup = || -> Result<(), OsError> {
                let _ = write(&v2.join("cgroup.subtree_control"), "+memory +cpu");
                mkdir(&root)?;
                let _ = write(&root.join("cgroup.subtree_control"), "+cpu");
                write(&root.join("cgroup.subtree_control"), "+memory")?;
                let _ = write(
                    &root.join("cpu.weight"),
                    &cpu_weight(all_cpus()).to_string(),
                );
                mkdir(&root.join(SHARED))?;
                let _ = write(
                    &root.join(SHARED).join("cpu.weight"),
                    &cpu_weight(0).to_string(),
                );
                Ok(())
            };
            return match setup() {
                Ok(()) => Cgroups::V2 { root },
                Err(e) => Cgroups::Unavailable(format!("cgroup v2 is not writable: {e}")),
            };
        }
        let memory = v1.join("memory");
        if memory.join("memory.limit_in_bytes").exists() {
            let memory = memory.join("runlet");
            if let Err(e) = mkdir(&memory) {
                return Cgroups::Unavailable(format!("cgroup v1 is not writable: {e}"));
            }
            let cpu = v1.join("cpu").join("runlet");
            let shared = cpu.join(SHARED);
            let cpu = (cpu
                .parent()
                .is_some_and(|c| c.join("cpu.cfs_quota_us").exists())
                && mkdir(&shared).is_ok()
                && write(&shared.join("cpu.shares"), &cpu_shares(0).to_string()).is_ok()
                && write(&cpu.join("cpu.shares"), &cpu_shares(all_cpus()).to_string()).is_ok())
            .then_some(cpu);
            return Cgroups::V1 { memory, cpu };
        }
        Cgroups::Unavailable("no cgroup hierarchy with the memory controller is mounted".into())
    }

    /// The cgroup(s) of the attempt `id` with `limits`: its own, made with its limits, or the
    /// shared one when it has nothing of its own to enforce; `None` with no usable hierarchy.
    pub fn create(&self, id: &str, limits: Limits) -> Result<Option<CgroupPlacement>, OsError> {
        if !limits.any() {
            return Ok(self
                .shared_procs()
                .map(|procs| CgroupPlacement { procs, own: false }));
        }
        let own = |procs| Ok(Some(CgroupPlacement { procs, own: true }));
        let weight = limits.cpu_request_millis.unwrap_or(0);
        match self {
            Cgroups::Unavailable(_) => Ok(None),
            Cgroups::V2 { root } => {
                let dir = root.join(id);
                mkdir(&dir)?;
                if let Some(m) = limits.memory_bytes {
                    write(&dir.join("memory.max"), &m.to_string())?;
                }
                // The kubelet's defaults on cgroup v2 for every container: no swap (`NoSwap`),
                // and no `singleProcessOOMKill`, so an OOM kill takes the whole container, not
                // one of its processes.
                let _ = write(&dir.join("memory.swap.max"), "0");
                let _ = write(&dir.join("memory.oom.group"), "1");
                if let Some(c) = limits.cpu_millis {
                    let quota = (c * CPU_PERIOD_US / 1000).max(1000);
                    let _ = write(&dir.join("cpu.max"), &format!("{quota} {CPU_PERIOD_US}"));
                }
                let _ = write(&dir.join("cpu.weight"), &cpu_weight(weight).to_string());
                own(vec![dir.join(self.join_file())])
            }
            Cgroups::V1 { memory, cpu } => {
                let mut procs = Vec::new();
                let dir = memory.join(id);
                mkdir(&dir)?;
                if let Some(m) = limits.memory_bytes {
                    write(&dir.join("memory.limit_in_bytes"), &m.to_string())?;
                    let _ = write(&dir.join("memory.memsw.limit_in_bytes"), &m.to_string());
                }
                procs.push(dir.join(self.join_file()));
                if let Some(cpu) = cpu {
                    let dir = cpu.join(id);
                    mkdir(&dir)?;
                    if let Some(c) = limits.cpu_millis {
                        let quota = (c * CPU_PERIOD_US / 1000).max(1000);
                        write(&dir.join("cpu.cfs_period_us"), &CPU_PERIOD_US.to_string())?;
                        write(&dir.join("cpu.cfs_quota_us"), &quota.to_string())?;
                    }
                    write(&dir.join("cpu.shares"), &cpu_shares(weight).to_string())?;
                    procs.push(dir.join(self.join_file()));
                }
                own(procs)
            }
        }
    }

    /// The file to join the group shared by the containers without a cgroup of their own.
    fn shared_procs(&self) -> Option<Vec<PathBuf>> {
        let dir = match self {
            Cgroups::V2 { root } => root.join(SHARED),
            Cgroups::V1 { cpu: Some(cpu), .. } => cpu.join(SHARED),
            Cgroups::V1 { cpu: None, .. } | Cgroups::Unavailable(_) => return None,
        };
        dir.is_dir().then(|| vec![dir.join(self.join_file())])
    }

    /// Whether the kernel's OOM killer killed a process of cgroup `id`.
    pub fn oom_killed(&self, id: &str) -> bool {
        let file = match self {
            Cgroups::V2 { root } => root.join(id).join("memory.events"),
            Cgroups::V1 { memory, .. } => memory.join(id).join("memory.oom_control"),
            Cgroups::Unavailable(_) => return false,
        };
        let text = std::fs::read_to_string(file).unwrap_or_default();
        oom_kill_count(&text) > 0
    }

    /// The directories `id`'s cgroups have, or would have, in every hierarchy.
    fn dirs(&self, id: &str) -> Vec<PathBuf> {
        match self {
            Cgroups::V2 { root } => vec![root.join(id)],
            Cgroups::V1 { memory, cpu } => {
                let mut d = vec![memory.join(id)];
                if let Some(c) = cpu {
                    d.push(c.join(id));
                }
                d
            }
            Cgroups::Unavailable(_) => vec![],
        }
    }

    /// The files to join `id`'s cgroups that exist, or the shared group where it
    /// has none of its own: where a command run in a running container (an exec probe or
    /// hook) joins it.
    pub fn procs(&self, id: &str) -> Vec<PathBuf> {
        let own: Vec<PathBuf> = self
            .dirs(id)
            .into_iter()
            .filter(|d| d.is_dir())
            .map(|d| d.join(self.join_file()))
            .collect();
        if own.is_empty() {
            self.shared_procs().unwrap_or_default()
        } else {
            own
        }
    }

    /// Removes `id`'s cgroups (best effort: they are empty once the processes are reaped).
    pub fn remove(&self, id: &str) {
        let dirs = self.dirs(id);
        for d in dirs {
            if d.exists()
                && let Err(e) = std::fs::remove_dir(&d)
            {
                tracing::debug!(cgroup = %d.display(), error = %e, "removing cgroup");
            }
        }
    }
}

/// The machine's CPUs in millicores: what the containers together weigh against the agent
/// and everything else, as upstream's `kubepods` cgroup weighs the node's allocatable CPU.
fn all_cpus() -> u64 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u64) * 1000
}

/// The kubelet's `MilliCPUToShares`: 1024 shares a CPU, at least 2, at most 262144.
fn cpu_shares(millis: u64) -> u64 {
    (millis * 1024 / 1000).clamp(2, 262_144)
}

/// cgroup v2's `cpu.weight` for those shares (the kubelet's `CpuSharesToCpuWeight`).
fn cpu_weight(millis: u64) -> u64 {
    1 + ((cpu_shares(millis) - 2) * 9999) / 262_142
}

/// The `oom_kill N` counter of `memory.events` (v2) or `memory.oom_control` (v1).
fn oom_kill_count(text: &str) -> u64 {
    text.lines()
        .filter_map(|l| l.strip_prefix("oom_kill "))
        .filter_map(|n| n.trim().parse().ok())
        .next()
        .unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn oom_kill_counter_is_read_from_both_formats() {
        assert_eq!(
            oom_kill_count("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"),
            1
        );
        assert_eq!(
            oom_kill_count("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"),
            2
        );
        assert_eq!(oom_kill_count(""), 0);
    }

    #[test]
    fn no_hierarchy_means_limits_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let c = Cgroups::detect_at(dir.path(), dir.path());
        assert!(matches!(c, Cgroups::Unavailable(_)));
        let limits = Limits {
            memory_bytes: Some(1 << 20),
            ..Limits::default()
        };
        assert_eq!(c.create("x", limits).unwrap(), None);
    }

    #[test]
    fn v2_limits_are_written_in_kernel_units() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cgroup.controllers"), "cpu memory pids").unwrap();
        let c = Cgroups::detect_at(dir.path(), dir.path());
        assert!(matches!(c, Cgroups::V2 { .. }), "{c:?}");
        let procs = c
            .create(
                "pod-c-0",
                Limits {
                    memory_bytes: Some(64 << 20),
                    cpu_millis: Some(500),
                    cpu_request_millis: Some(200),
                    oom_score_adj: None,
                },
            )
            .unwrap()
            .unwrap();
        let cg = dir.path().join("runlet/pod-c-0");
        assert_eq!(procs.procs, vec![cg.join("cgroup.procs")]);
        assert!(procs.own);
        assert_eq!(
            std::fs::read_to_string(cg.join("memory.max")).unwrap(),
            "67108864"
        );
        assert_eq!(
            std::fs::read_to_string(cg.join("cpu.max")).unwrap(),
            "50000 100000"
        );
        assert_eq!(std::fs::read_to_string(cg.join("cpu.weight")).unwrap(), "8");
    }

    #[test]
    fn containers_without_a_cpu_request_weigh_least() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cgroup.controllers"), "cpu memory pids").unwrap();
        let c = Cgroups::detect_at(dir.path(), dir.path());
        let shared = dir.path().join("runlet/besteffort");
        assert_eq!(
            std::fs::read_to_string(shared.join("cpu.weight")).unwrap(),
            "1"
        );
        // Nothing of its own to enforce: the shared group, which is not removed after it.
        let placed = c.create("pod-a-0", Limits::default()).unwrap().unwrap();
        assert_eq!(placed.procs, vec![shared.join("cgroup.procs")]);
        assert!(!placed.own);
        assert_eq!(c.procs("pod-a-0"), vec![shared.join("cgroup.procs")]);
        // A memory limit alone: a cgroup of its own, weighing least, swap off, OOM kills whole.
        let limits = Limits {
            memory_bytes: Some(1 << 20),
            ..Limits::default()
        };
        assert!(c.create("pod-b-0", limits).unwrap().unwrap().own);
        let own = dir.path().join("runlet/pod-b-0");
        for (file, value) in [
            ("cpu.weight", "1"),
            ("memory.swap.max", "0"),
            ("memory.oom.group", "1"),
        ] {
            assert_eq!(std::fs::read_to_string(own.join(file)).unwrap(), value);
        }
    }

    #[test]
    fn v1_children_join_through_tasks() {
        let v2 = tempfile::tempdir().unwrap();
        let v1 = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(v1.path().join("memory")).unwrap();
        std::fs::write(v1.path().join("memory/memory.limit_in_bytes"), "0").unwrap();
        std::fs::create_dir_all(v1.path().join("cpu")).unwrap();
        std::fs::write(v1.path().join("cpu/cpu.cfs_quota_us"), "-1").unwrap();
        let c = Cgroups::detect_at(v2.path(), v1.path());
        assert!(matches!(c, Cgroups::V1 { cpu: Some(_), .. }), "{c:?}");
        // The shared group: `tasks`, which moves the writing thread without the kernel's
        // global threadgroup lock (the child is single-threaded, so that is the process).
        let shared = v1.path().join("cpu/runlet/besteffort");
        let placed = c.create("pod-a-0", Limits::default()).unwrap().unwrap();
        assert_eq!(placed.procs, vec![shared.join("tasks")]);
        assert_eq!(c.procs("pod-a-0"), vec![shared.join("tasks")]);
        // A cgroup of its own in both hierarchies, joined the same way.
        let limits = Limits {
            memory_bytes: Some(1 << 20),
            ..Limits::default()
        };
        let own = c.create("pod-b-0", limits).unwrap().unwrap();
        assert_eq!(
            own.procs,
            vec![
                v1.path().join("memory/runlet/pod-b-0/tasks"),
                v1.path().join("cpu/runlet/pod-b-0/tasks"),
            ]
        );
        assert_eq!(c.procs("pod-b-0"), own.procs);
    }

    #[test]
    fn cpu_requests_weigh_as_the_kubelet_weighs_them() {
        assert_eq!(
            [1, 200, 1000, 300_000].map(cpu_shares),
            [2, 204, 1024, 262_144]
        );
        assert_eq!([1, 1000, 300_000].map(cpu_weight), [1, 39, 10000]);
    }
}
