//! Starting container attempts and applying the restart policy when they end: the
//! environment, command line, user, mounts, termination-message file and limits of an attempt,
//! how its end is recorded (reason, exit code, message), and crash-loop backoff.

use super::etchosts;
use super::probe;
use super::quantity;
use super::resolvconf;
use super::state::{Kind, StartFailure, State, Terminated};
use super::{
    DEFAULT_TERMINATION_PATH, FALLBACK_BYTES, FALLBACK_LINES, MAX_TERMINATION_MESSAGE, Stage,
    Worker, env, field_path, field_path_of, restart_policy, volumes,
};
use crate::os::{Credentials, Limits};
use crate::runtime::{ContainerConfig, Exited, RuntimeError};
use runlet_api::eventtype::EventType::{Normal, Warning};
use std::path::PathBuf;
use std::sync::Arc;

/// How long a crashed container shows its exit before `CrashLoopBackOff`: the kubelet's pod
/// worker syncs a pod whose sync met a back-off again after 10 s (`backOffPeriod`), and only
/// that sync reports the back-off.
const BACKOFF_SHOWN_AFTER_MS: i64 = 10_000;

fn quantity_ceil(
    q: Option<&k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
    unit_nanos: i128,
) -> Option<u64> {
    let n = quantity::nanos(&q?.0)?;
    (n > 0).then(|| u64::try_from((n + unit_nanos - 1) / unit_nanos).unwrap_or(u64::MAX))
}

/// The pod's host name as upstream's `GeneratePodHostNameAndDomain` makes it: `spec.hostname`,
/// else the pod's name, cut to 63 characters without a trailing `-` or `.`.
fn pod_hostname(pod: &k8s_openapi::api::core::v1::Pod) -> String {
    let name = pod
        .spec
        .as_ref()
        .and_then(|s| s.hostname.as_deref())
        .filter(|h| !h.is_empty())
        .or(pod.metadata.name.as_deref())
        .unwrap_or_default();
    if name.len() <= 63 {
        return name.to_string();
    }
    name.get(..63)
        .unwrap_or_default()
        .trim_end_matches(['-', '.'])
        .to_string()
}

/// The environment every container starts from (a container image would supply these).
fn base_env(hostname: String, uid: Option<u32>) -> Vec<(String, String)> {
    let path = std::env::var("PATH")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    let home = match uid {
        None | Some(0) => "/root",
        Some(_) => "/",
    };
    vec![
        ("PATH".into(), path),
        ("HOSTNAME".into(), hostname),
        ("HOME".into(), home.into()),
    ]
}

impl Worker {
    /// Starts one attempt of container `i`.
    pub(super) fn start(&mut self, i: usize, now_ms: i64) {
        let Some(slot) = self.slots.get(i) else {
            return;
        };
        let container = slot.container.clone();
        let user = match self.credentials(&container) {
            Ok(user) => user,
            Err(msg) => return self.config_error(i, now_ms, msg),
        };
        let uid = user.uid;
        let built = {
            let sources = self.sources();
            env::build_env(&self.pod, &container, &sources)
        };
        let pod_env = match built {
            Ok(e) => e,
            Err(e) => {
                self.refs_stale = true;
                return self.config_error(i, now_ms, e.to_string());
            }
        };
        // Upstream's `ExpandContainerCommandAndArgs` sees the pod's environment only, not
        // what the runtime adds (PATH, HOSTNAME, HOME).
        let argv = env::command_line(&container, &pod_env);
        // A `hostNetwork` pod has the node's host name (its sandbox gets none from the kubelet,
        // and the runtime uses the host's); any other has its own, in a UTS namespace of its own
        // where the agent may make one.
        let host_network = self
            .pod
            .spec
            .as_ref()
            .is_some_and(|s| s.host_network == Some(true));
        let hostname = if host_network {
            rustix::system::uname()
                .nodename()
                .to_string_lossy()
                .into_owned()
        } else {
            pod_hostname(&self.pod)
        };
        // The kernel's name (and `HOSTNAME`, which the runtime sets from it) may be the fully
        // qualified one; `/etc/hosts` names the pod by its host name either way.
        let kernel_hostname = match etchosts::kernel_hostname(&self.pod, &hostname) {
            Ok(name) if !host_network => name,
            Ok(_) => hostname.clone(),
            Err(e) => return self.config_error(i, now_ms, e),
        };
        let mut full_env = base_env(kernel_hostname.clone(), uid);
        for (k, v) in &pod_env {
            if let Some(slot) = full_env.iter_mut().find(|(n, _)| n == k) {
                slot.1.clone_from(v);
            } else {
                full_env.push((k.clone(), v.clone()));
            }
        }
        // The attempt's number is the restart count it will show (its log file name).
        let attempt = self
            .slots
            .get(i)
            .map(|s| (s.restart_count + i32::from(s.attempts > 0)).max(0) as u32)
            .unwrap_or(0);
        let id = super::attempt_id(&self.uid, &container.name, attempt);
        let custom_termination_path = container
            .termination_message_path
            .as_deref()
            .is_some_and(|p| p != DEFAULT_TERMINATION_PATH);
        let needs_namespace = custom_termination_path
            || user.read_only_root
            || container
                .volume_mounts
                .as_ref()
                .is_some_and(|m| !m.is_empty());
        if needs_namespace && !self.ctx.runtime.os().is_root() {
            // Only root makes mount namespaces here: say so before anything is made on the host.
            return self.fail_without_mount_namespace(
                i,
                now_ms,
                &id,
                "the node agent does not run as root",
            );
        }
        // A `subPathExpr` sees the pod's environment too, not what the runtime adds; a mount
        // that cannot be made is the kubelet's `makeMounts` failing: the container waits in
        // `CreateContainerConfigError` and is tried again, nothing has run.
        let mut mounts = match self
            .volumes
            .as_ref()
            .map(|v| volumes::container_mounts(&container, &pod_env, v))
        {
            Some(Ok(m)) => m,
            Some(Err(e)) => return self.config_error(i, now_ms, e.to_string()),
            None => Vec::new(),
        };
        let (term_host, term_file) = self.termination_mount(&container, attempt, &mut mounts);
        if self.ctx.runtime.os().is_root() && etchosts::mounted_for(&container) {
            match self.hosts_file(&hostname) {
                Ok(source) => mounts.push(crate::os::BindMount {
                    source,
                    target: PathBuf::from(etchosts::PATH),
                    read_only: false,
                    optional: false,
                }),
                Err(e) => {
                    tracing::warn!(pod = %self.name, error = %e, "writing the pod's /etc/hosts")
                }
            }
        }
        if self.ctx.runtime.os().is_root()
            && resolvconf::wanted(&self.pod)
            && resolvconf::mounted_for(&container)
        {
            match self.resolv_file() {
                Ok(source) => mounts.push(crate::os::BindMount {
                    source,
                    target: PathBuf::from(resolvconf::PATH),
                    read_only: false,
                    optional: false,
                }),
                Err(e) => {
                    tracing::warn!(pod = %self.name, error = %e, "writing the pod's /etc/resolv.conf")
                }
            }
        }
        if let Err(e) = volumes::place_mounts(
            &mut mounts,
            &self.ctx.mount_points,
            &mut self.claimed_mount_points,
        ) {
            return self.config_error(i, now_ms, e.to_string());
        }
        let cwd = match container.working_dir.as_deref().filter(|d| !d.is_empty()) {
            Some(d) => {
                let p = PathBuf::from(d);
                // The runtime makes a missing working directory, as in an image's root: inside
                // the volume it lies in, or on the host, made as a mount point is, and taken
                // away again with the last pod using it if left empty.
                let in_volume = volumes::make_inside(&mounts, &p, true).unwrap_or(false)
                    || mounts.iter().any(|m| p == m.target);
                if !in_volume
                    && !self.claimed_mount_points.contains(&p)
                    && self.ctx.mount_points.claim(&p, true).unwrap_or(false)
                {
                    self.claimed_mount_points.push(p.clone());
                }
                p
            }
            None => self.sandbox.clone(),
        };
        let resources = container.resources.as_ref();
        let limits = resources.and_then(|r| r.limits.as_ref());
        let requests = resources.and_then(|r| r.requests.as_ref());
        let limits = Limits {
            memory_bytes: quantity_ceil(limits.and_then(|l| l.get("memory")), 1_000_000_000),
            cpu_millis: quantity_ceil(limits.and_then(|l| l.get("cpu")), 1_000_000),
            cpu_request_millis: quantity_ceil(requests.and_then(|r| r.get("cpu")), 1_000_000),
            oom_score_adj: Some(super::oom::score_adj(
                &self.pod,
                &container,
                self.slots.get(i).is_some_and(|s| s.kind == Kind::Sidecar),
                self.ctx.host.memory_bytes,
            )),
        };
        let log_path =
            self.ctx
                .logs
                .attempt_file(&self.ns, &self.name, &self.uid, &container.name, attempt);
        // The kubelet keeps one dead container per container (`MaxPerPodContainer`), and its
        // log with it, for `--previous`: the attempt before that one goes.
        if let Some(old) = attempt.checked_sub(2) {
            self.ctx
                .logs
                .remove_attempt(&self.ns, &self.name, &self.uid, &container.name, old);
        }
        let may_make_namespaces = self.ctx.runtime.os().is_root();
        let hostname = (may_make_namespaces && !host_network).then_some(kernel_hostname);
        let host_pid = self
            .pod
            .spec
            .as_ref()
            .is_some_and(|s| s.host_pid == Some(true));
        let config = ContainerConfig {
            id: id.clone(),
            argv,
            env: full_env,
            cwd,
            user,
            mounts,
            hostname,
            pid_namespace: may_make_namespaces && !host_pid,
            limits,
            log_path,
            join: None,
        };
        // What an exec probe, hook or `kubectl exec` runs as: the container's own environment,
        // user and working directory. It enters the container's mount namespace (see
        // `Runtime::exec`), or, where the agent may make none, the container has no mounts
        // either.
        let exec_config = Arc::new(ContainerConfig {
            argv: Vec::new(),
            mounts: Vec::new(),
            ..config.clone()
        });
        let started = self.ctx.runtime.start(config);
        // The child bound the file before its `execve`, which `start` waits for: the open file
        // is all that is needed from here on.
        if term_file.is_some() {
            let _ = std::fs::remove_file(&term_host);
        }
        match started {
            Ok(started) => {
                let now_s = now_ms.div_euclid(1000);
                if let Some(s) = self.slots.get_mut(i) {
                    if s.attempts > 0 {
                        s.restart_count += 1;
                    }
                    s.attempts += 1;
                    if s.backoff_shown_at.is_some() {
                        // Restarted before its back-off was shown.
                        s.retire_ended_attempt();
                    }
                    s.state = State::Running {
                        started_at: now_s,
                        pid: started.pid,
                    };
                    s.start_at = None;
                    s.killed = false;
                    s.container_id = Some(id);
                    s.termination = term_file.map(Arc::new);
                    s.forget_attempt();
                    let ended = tokio_util::sync::CancellationToken::new();
                    s.attempt_cancel = Some(ended.clone());
                    s.probes = probe::Prober::for_container(&container, now_ms);
                    self.ctx.exec_targets.running(
                        &self.uid,
                        &container.name,
                        crate::exec::ExecTarget {
                            config: exec_config.clone(),
                            pid: started.pid,
                            ended,
                        },
                    );
                    s.exec_config = Some(exec_config);
                }
                self.started_since_write = true;
                if started.limits_unenforced {
                    self.ctx.events.pod(
                        &self.pod,
                        Warning,
                        "LimitsNotEnforced",
                        &format!(
                            "the resource limits of container {} are not enforced: the node agent cannot create cgroups here (it does not run as root, or the host has no usable hierarchy)",
                            container.name
                        ),
                        Some(&field_path_of(
                            &container.name,
                            self.slots.get(i).map(|s| s.kind),
                        )),
                    );
                }
                // The process runtime creates and starts a container in one step; the kubelet
                // reports the two.
                let field_path = field_path_of(&container.name, self.slots.get(i).map(|s| s.kind));
                self.created_event(&container.name, &field_path);
                self.ctx.events.pod(
                    &self.pod,
                    Normal,
                    "Started",
                    &format!("Started container {}", container.name),
                    Some(&field_path),
                );
                let exited = started.exited;
                self.exits
                    .spawn(async move { (i, attempt, now_s, exited.await) });
                self.run_post_start(i);
            }
            Err(RuntimeError::MountNamespace(e)) => {
                self.fail_without_mount_namespace(i, now_ms, &id, &e.to_string());
            }
            Err(RuntimeError::Start(e)) => {
                let msg = e.to_string();
                // The kubelet made the container before its start failed (containerd reports
                // a missing executable when the task starts): `Created`, then `Failed`.
                let field_path = field_path_of(&container.name, self.slots.get(i).map(|s| s.kind));
                self.created_event(&container.name, &field_path);
                self.ctx.events.pod(
                    &self.pod,
                    Warning,
                    "Failed",
                    &format!("Error: {msg}"),
                    Some(&field_path),
                );
                if let Some(s) = self.slots.get_mut(i) {
                    s.start_failure = Some(StartFailure {
                        reason: "RunContainerError",
                        message: msg.clone(),
                    });
                }
                self.fail_start(i, now_ms, 128, "StartError", msg, &id);
            }
        }
    }

    /// The kubelet's `BackOff` event for container `i`, recorded at each sync of the pod that
    /// finds it waiting out its back-off (identical ones are counted on the first).
    fn backoff_event(&self, i: usize) {
        let Some(s) = self.slots.get(i) else {
            return;
        };
        let text = format!(
            "Back-off restarting failed container {} in pod {}_{}({})",
            s.container.name, self.name, self.ns, self.uid
        );
        self.ctx
            .events
            .pod(&self.pod, Warning, "BackOff", &text, Some(&field_path(s)));
    }

    /// The `BackOff` events due now for the containers still waiting out their back-off,
    /// every 10 s until they restart.
    pub(super) fn repeat_backoff_events(&mut self, now_ms: i64) {
        for i in 0..self.slots.len() {
            let Some(s) = self.slots.get_mut(i) else {
                continue;
            };
            let Some(at) = s.next_backoff_event_ms.filter(|at| now_ms >= *at) else {
                continue;
            };
            if s.start_at.is_some_and(|start| start > now_ms) {
                s.next_backoff_event_ms = Some(at + BACKOFF_SHOWN_AFTER_MS);
                self.backoff_event(i);
            } else {
                s.next_backoff_event_ms = None;
            }
        }
    }

    /// The kubelet's `Created` event for `container`, at `field_path`.
    fn created_event(&self, container: &str, field_path: &str) {
        self.ctx.events.pod(
            &self.pod,
            Normal,
            "Created",
            &format!("Created container: {container}"),
            Some(field_path),
        );
    }

    /// Records an attempt that could not start as a terminated one (as containerd reports
    /// `StartError` with exit code 128) and applies the restart policy.
    pub(super) fn fail_start(
        &mut self,
        i: usize,
        now_ms: i64,
        code: i32,
        reason: &str,
        message: String,
        id: &str,
    ) {
        let now_s = now_ms.div_euclid(1000);
        if let Some(s) = self.slots.get_mut(i) {
            if s.attempts > 0 {
                s.restart_count += 1;
            }
            s.attempts += 1;
            s.start_at = None;
            s.container_id = Some(id.to_string());
            let t = Terminated {
                exit_code: code,
                signal: None,
                reason: reason.into(),
                message: Some(message),
                // Never started: containerd reports no start time, which the kubelet shows
                // as the epoch (kubernetes/kubernetes#120331).
                started_at: 0,
                finished_at: now_s,
                container_id: format!("{}://{id}", self.ctx.runtime.name()),
            };
            s.state = State::Terminated(t);
            // As with containerd, a container that could not start has a log, empty: `logs`
            // shows nothing instead of "waiting to start".
            let log = self.ctx.logs.attempt_file(
                &self.ns,
                &self.name,
                &self.uid,
                &s.container.name,
                u32::try_from(s.restart_count).unwrap_or_default(),
            );
            if !log.exists() {
                let _ = std::fs::File::create(&log);
            }
        }
        self.after_exit(i, now_ms, code);
    }

    /// The termination-message file of `container`'s `attempt`: one of the agent's, opened
    /// here and bound at the container's path in its private mount namespace (added to
    /// `mounts`). The default path is bound only where the agent may make mount namespaces (as
    /// root), and a container runs without it where none can be made; a path of the pod's own
    /// needs the namespace, as a volume does. Returns the host path and the open file.
    fn termination_mount(
        &mut self,
        container: &k8s_openapi::api::core::v1::Container,
        attempt: u32,
        mounts: &mut Vec<crate::os::BindMount>,
    ) -> (PathBuf, Option<std::fs::File>) {
        let term_path = container
            .termination_message_path
            .clone()
            .unwrap_or_else(|| DEFAULT_TERMINATION_PATH.into());
        let default_path = term_path == DEFAULT_TERMINATION_PATH;
        let term_host = self.termination_file(&container.name, attempt);
        let mut term_file = None;
        if !mounts.is_empty() || !default_path || self.ctx.runtime.os().is_root() {
            let target = PathBuf::from(&term_path);
            term_file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&term_host)
                .and_then(|f| {
                    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))?;
                    Ok(f)
                })
                .ok();
            // The default path is left in place once made: every pod binds it. Another path's
            // mount point is made with the volumes' (`volumes::place_mounts`).
            let ok = term_file.is_some()
                && (!default_path || target.exists() || std::fs::write(&target, b"").is_ok());
            if ok && target.is_absolute() {
                mounts.push(crate::os::BindMount {
                    source: term_host.clone(),
                    target,
                    read_only: false,
                    optional: default_path,
                });
            }
        }
        (term_host, term_file)
    }

    /// Fails the pod whose container `i` needs a private mount namespace (volumes, or a
    /// termination-message path of its own) where none can be made: it never runs without them.
    fn fail_without_mount_namespace(&mut self, i: usize, now_ms: i64, id: &str, cause: &str) {
        let msg = format!(
            "the process runtime cannot make a private mount namespace for this pod's volumes or termination-message path here ({cause}); the pod cannot run without them"
        );
        self.ctx
            .events
            .pod(&self.pod, Warning, "FailedMount", &msg, None);
        self.failed = true;
        self.reason = Some("MountNamespaceUnavailable".into());
        self.message = Some(msg.clone());
        self.fail_start(i, now_ms, 128, "StartError", msg, id);
        self.begin_kill(0);
    }

    /// A container that cannot be configured waits in `CreateContainerConfigError` (with a
    /// `Failed` event) and is retried after the kubelet's back-off.
    fn config_error(&mut self, i: usize, now_ms: i64, msg: String) {
        let kind = self.slots.get(i).map(|s| s.kind);
        if let Some(name) = self.slots.get(i).map(|s| s.container.name.clone()) {
            self.ctx.events.pod(
                &self.pod,
                Warning,
                "Failed",
                &format!("Error: {msg}"),
                Some(&field_path_of(&name, kind)),
            );
        }
        if let Some(s) = self.slots.get_mut(i) {
            s.state = State::Waiting {
                reason: "CreateContainerConfigError".into(),
                message: Some(msg),
            };
            s.start_at = Some(now_ms + super::CONFIG_ERROR_RETRY_MS);
        }
    }

    /// Who container `c` runs as: `runAsUser`/`runAsGroup` of the container, else of the pod
    /// (`None`: the agent's own), with the pod's `fsGroup` and `supplementalGroups` as
    /// supplementary groups (upstream's `determineEffectiveSecurityContext`), and the
    /// container's `allowPrivilegeEscalation` and `readOnlyRootFilesystem`. Refused as
    /// upstream's `verifyRunAsNonRoot` refuses (with `runAsNonRoot`, a process runtime container
    /// would run as the agent's user, its "image user"), and where the agent, not being root,
    /// cannot switch to them.
    pub(super) fn credentials(
        &self,
        c: &k8s_openapi::api::core::v1::Container,
    ) -> Result<Credentials, String> {
        let pod_sc = self
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.security_context.as_ref());
        let sc = c.security_context.as_ref();
        let uid = sc
            .and_then(|s| s.run_as_user)
            .or_else(|| pod_sc.and_then(|s| s.run_as_user));
        let gid = sc
            .and_then(|s| s.run_as_group)
            .or_else(|| pod_sc.and_then(|s| s.run_as_group));
        let non_root = sc
            .and_then(|s| s.run_as_non_root)
            .or_else(|| pod_sc.and_then(|s| s.run_as_non_root))
            == Some(true);
        let root = self.ctx.runtime.os().is_root();
        let pod = format!("{}_{}({})", self.name, self.ns, self.uid);
        if non_root {
            match uid {
                Some(0) => {
                    return Err(format!(
                        "container's runAsUser breaks non-root policy (pod: {pod:?}, container: {})",
                        c.name
                    ));
                }
                None if root => {
                    return Err(format!(
                        "container has runAsNonRoot and image will run as root (pod: {pod:?}, container: {})",
                        c.name
                    ));
                }
                _ => {}
            }
        }
        let uid = uid.and_then(|u| u32::try_from(u).ok());
        let gid = gid.and_then(|g| u32::try_from(g).ok());
        let mut groups: Vec<u32> = pod_sc
            .into_iter()
            .flat_map(|s| {
                s.fs_group
                    .iter()
                    .chain(s.supplemental_groups.iter().flatten())
            })
            .filter_map(|g| u32::try_from(*g).ok())
            .collect();
        groups.dedup();
        let privileged = sc.and_then(|s| s.privileged) == Some(true);
        let credentials = Credentials {
            uid,
            gid,
            groups,
            no_new_privs: !privileged
                && sc.and_then(|s| s.allow_privilege_escalation) == Some(false),
            read_only_root: sc.and_then(|s| s.read_only_root_filesystem) == Some(true),
            capabilities: root.then(|| {
                crate::os::capabilities::kept(privileged, sc.and_then(|s| s.capabilities.as_ref()))
            }),
        };
        if root {
            return Ok(credentials);
        }
        // Not root: only the agent's own user and group can be had.
        let own = (
            rustix::process::getuid().as_raw(),
            rustix::process::getgid().as_raw(),
        );
        for (asked, own, what) in [(uid, own.0, "user"), (gid, own.1, "group")] {
            if let Some(id) = asked.filter(|id| *id != own) {
                return Err(format!(
                    "cannot run as {what} {id}: the node agent does not run as root"
                ));
            }
        }
        if let Some(group) = credentials.groups.first() {
            return Err(format!(
                "cannot add the supplementary group {group} (fsGroup, supplementalGroups): the node agent does not run as root"
            ));
        }
        Ok(Credentials {
            uid: None,
            gid: None,
            ..credentials
        })
    }

    pub(super) fn on_exit(&mut self, i: usize, attempt: u32, started_s: i64, exited: Exited) {
        let now_ms = self.now_ms();
        let Some(slot) = self.slots.get(i) else {
            return;
        };
        let container = slot.container.clone();
        let id = slot.container_id.clone().unwrap_or_default();
        let reason = if exited.oom_killed {
            "OOMKilled"
        } else if exited.code == 0 {
            "Completed"
        } else {
            "Error"
        };
        let mut message = self
            .slots
            .get_mut(i)
            .and_then(|s| s.termination.take())
            .and_then(|f| read_termination_message(&f));
        if message.is_none()
            && exited.code != 0
            && container.termination_message_policy.as_deref() == Some("FallbackToLogsOnError")
        {
            let log = self.ctx.logs.attempt_file(
                &self.ns,
                &self.name,
                &self.uid,
                &container.name,
                attempt,
            );
            message = Some(crate::logs::write::tail_content(
                &log,
                FALLBACK_LINES,
                FALLBACK_BYTES,
            ))
            .filter(|m| !m.is_empty());
        }
        let t = Terminated {
            exit_code: exited.code,
            signal: exited.signal,
            reason: reason.into(),
            message,
            started_at: started_s,
            finished_at: now_ms.div_euclid(1000),
            container_id: format!("{}://{id}", self.ctx.runtime.name()),
        };
        if let Some(s) = self.slots.get_mut(i) {
            s.state = State::Terminated(t);
            s.forget_attempt();
        }
        self.after_exit(i, now_ms, exited.code);
    }

    /// Applies the restart policy to container `i` that just ended with `code`.
    pub(super) fn after_exit(&mut self, i: usize, now_ms: i64, code: i32) {
        let start_failure = self.slots.get_mut(i).and_then(|s| s.start_failure.take());
        if self.terminating() || matches!(self.stage, Stage::StopSidecars { .. }) {
            return;
        }
        let policy = restart_policy(&self.pod).to_string();
        let Some(kind) = self.slots.get(i).map(|s| s.kind) else {
            return;
        };
        let restart = match kind {
            Kind::Sidecar => true,
            Kind::Init => code != 0 && policy != "Never",
            Kind::Main => policy == "Always" || (policy == "OnFailure" && code != 0),
        };
        if restart {
            let initial = self.ctx.config.backoff_initial.as_millis() as i64;
            let max = self.ctx.config.backoff_max.as_millis() as i64;
            let pod_desc = format!("{}_{}({})", self.name, self.ns, self.uid);
            if let Some(s) = self.slots.get_mut(i) {
                let delay = s.schedule_restart(now_ms, initial, max);
                // The kubelet's reason cache holds the failed start (`RunContainerError` or
                // `PostStartHookError`, with the error) until a sync meets the back-off.
                if let Some(failure) = start_failure {
                    s.retire_ended_attempt();
                    s.state = State::Waiting {
                        reason: failure.reason.into(),
                        message: Some(failure.message),
                    };
                }
                if delay == 0 {
                    s.retire_ended_attempt();
                } else {
                    let msg = format!(
                        "back-off {} restarting failed container={} pod={pod_desc}",
                        go_duration(delay / 1000),
                        s.name()
                    );
                    // The exit shows until the kubelet's next sync (10 s), or to the restart.
                    let shown_at = if delay > BACKOFF_SHOWN_AFTER_MS {
                        now_ms + BACKOFF_SHOWN_AFTER_MS
                    } else {
                        i64::MAX
                    };
                    s.backoff_shown_at = Some((shown_at, msg));
                    s.next_backoff_event_ms = Some(now_ms + BACKOFF_SHOWN_AFTER_MS);
                    self.backoff_event(i);
                }
            }
        } else if kind == Kind::Init && code != 0 {
            // A failed init container with restartPolicy Never fails the pod.
            self.failed = true;
            self.begin_kill(self.grace_ms());
        }
    }
}

/// What a container left in its termination-message file: the end of it, at most upstream's
/// 4 KiB (the kubelet's `tail.ReadAtMost`); `None` when it wrote nothing.
fn read_termination_message(file: &std::fs::File) -> Option<String> {
    use std::os::unix::fs::FileExt;
    let len = file.metadata().ok()?.len();
    if len == 0 {
        return None;
    }
    let keep = len.min(MAX_TERMINATION_MESSAGE as u64);
    let mut buf = vec![0; keep as usize];
    let n = file.read_at(&mut buf, len - keep).ok()?;
    buf.truncate(n);
    Some(String::from_utf8_lossy(&buf).into_owned()).filter(|m| !m.is_empty())
}

/// Whole seconds as Go's `time.Duration` prints them (`10s`, `1m20s`, `5m0s`, `1h0m0s`), the
/// way the kubelet's back-off message shows its delay.
fn go_duration(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn a_long_termination_message_keeps_its_end() {
        let file = tempfile::tempfile().unwrap();
        assert_eq!(super::read_termination_message(&file), None);
        let text = format!("{}{}", "a".repeat(5000), "the end");
        std::io::Write::write_all(&mut &file, text.as_bytes()).unwrap();
        let message = super::read_termination_message(&file).unwrap();
        assert_eq!(message.len(), super::MAX_TERMINATION_MESSAGE);
        assert!(message.ends_with("aaathe end"), "{message}");
    }

    #[test]
    fn durations_read_as_go_prints_them() {
        let printed: Vec<String> = [0, 10, 80, 300, 3600]
            .into_iter()
            .map(super::go_duration)
            .collect();
        assert_eq!(printed, ["0s", "10s", "1m20s", "5m0s", "1h0m0s"]);
    }

    #[test]
    fn the_host_name_is_spec_hostname_or_the_pod_name_cut_to_63() {
        let pod = |v| serde_json::from_value(v).unwrap();
        let named = serde_json::json!({"metadata": {"name": "p-1"}, "spec": {"containers": []}});
        assert_eq!(super::pod_hostname(&pod(named)), "p-1");
        let custom = serde_json::json!({"metadata": {"name": "p-1"},
            "spec": {"hostname": "worker", "containers": []}});
        assert_eq!(super::pod_hostname(&pod(custom)), "worker");
        let long = format!("{}-x", "a".repeat(62));
        let long = serde_json::json!({"metadata": {"name": long}, "spec": {"containers": []}});
        assert_eq!(super::pod_hostname(&pod(long)), "a".repeat(62));
    }
}
