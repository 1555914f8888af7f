//! An API server, an agent on node `node-1` with a short tick, and bounded waits.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use runlet_agent::{Agent, AgentConfig};
use runlet_test::TestApi;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const NODE: &str = "node-1";

pub struct Env {
    pub api: TestApi,
    pub pods: Api<Pod>,
    pub dir: tempfile::TempDir,
    cancel: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Env {
    pub async fn start() -> Env {
        let api = TestApi::start().await;
        let dir = tempfile::tempdir().unwrap();
        let pods = Api::default_namespaced(api.client.clone());
        let mut env = Env {
            api,
            pods,
            dir,
            cancel: CancellationToken::new(),
            task: None,
        };
        env.start_agent().await;
        env
    }

    /// Starts an agent on the same data directory, after [`Env::stop_agent`].
    pub async fn start_agent(&mut self) {
        let mut config = AgentConfig::new(NODE, self.dir.path().join("agent"));
        config.tick = Duration::from_millis(20);
        let agent = Agent::new(self.api.client.clone(), self.api.clock.clone(), config);
        self.api.state.register_local_agent(
            NODE,
            runlet_apiserver::state::LocalAgent::new(agent.handle()),
        );
        self.cancel = CancellationToken::new();
        let token = self.cancel.clone();
        self.task = Some(tokio::spawn(async move {
            agent.run(token).await.unwrap();
        }));
        let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(self.api.client.clone());
        wait_until("the node registers", || async {
            nodes.get_opt(NODE).await.unwrap().is_some()
        })
        .await;
    }

    /// Puts a finalizer on pod `name` (`hold: true`) or takes every finalizer off, so a test
    /// can look at a deleted pod before it goes.
    pub async fn hold(&self, name: &str, hold: bool) {
        let finalizers = if hold {
            serde_json::json!(["example.com/hold"])
        } else {
            serde_json::Value::Null
        };
        self.pods
            .patch(
                name,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(
                    serde_json::json!({"metadata": {"finalizers": finalizers}}),
                ),
            )
            .await
            .unwrap();
    }

    /// Creates a pod bound to the node from a JSON spec.
    pub async fn create(&self, name: &str, spec: serde_json::Value) -> Pod {
        let mut spec = spec;
        spec["nodeName"] = serde_json::json!(NODE);
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name},
            "spec": spec,
        }))
        .unwrap();
        self.pods
            .create(&PostParams::default(), &pod)
            .await
            .unwrap()
    }

    /// Waits (bounded) until the pod satisfies `f`.
    pub async fn wait_pod(&self, name: &str, what: &str, f: impl Fn(&Pod) -> bool) -> Pod {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(p) = self.pods.get_opt(name).await.unwrap()
                && f(&p)
            {
                return p;
            }
            if tokio::time::Instant::now() > deadline {
                let p = self.pods.get_opt(name).await.unwrap();
                panic!(
                    "timed out waiting for pod {name}: {what}; last: {}",
                    serde_json::to_string_pretty(&p.map(|p| p.status)).unwrap()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn wait_phase(&self, name: &str, phase: &str) -> Pod {
        self.wait_pod(name, phase, |p| phase_of(p) == phase).await
    }

    /// Moves the clock on by `step_millis` at a time until `f` holds (bounded): for what the
    /// agent does at a time on the clock with what its watches have seen by then. A change
    /// the agent reads from a watch may reach it just after the time it looks, and then it
    /// looks again a step later, as the kubelet does.
    pub async fn advance_until<F, Fut>(&self, step_millis: i64, what: &str, f: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            self.api.clock.advance_millis(step_millis);
            let look = tokio::time::Instant::now() + Duration::from_millis(500);
            while tokio::time::Instant::now() < look {
                if f().await {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out advancing the clock until {what}"
            );
        }
    }

    pub async fn logs(&self, name: &str, params: &kube::api::LogParams) -> String {
        self.pods.logs(name, params).await.unwrap()
    }

    /// `logs --previous`.
    pub async fn previous_logs(&self, name: &str) -> String {
        let params = kube::api::LogParams {
            previous: true,
            ..Default::default()
        };
        self.logs(name, &params).await
    }

    /// Stops the agent; every process it started is gone afterwards.
    pub async fn stop(mut self) {
        self.stop_agent().await;
    }

    /// Stops the agent, keeping the API server and the data directory.
    pub async fn stop_agent(&mut self) {
        self.cancel.cancel();
        if let Some(t) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(20), t)
                .await
                .expect("the agent stops")
                .unwrap();
        }
    }
}

impl Drop for Env {
    /// A test that failed before [`Env::stop`] dropped the agent without its clean-up, and the
    /// agent runs in this process's mount namespace, the host's: its tmpfs goes here, or it
    /// would stay mounted on the host.
    fn drop(&mut self) {
        if self.task.is_some() {
            let memory = self
                .dir
                .path()
                .join("agent")
                .join(runlet_agent::pod::MEMORY);
            let _ = rustix::mount::unmount(&memory, rustix::mount::UnmountFlags::DETACH);
        }
    }
}

pub fn phase_of(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// The first container status of `p` as JSON.
pub fn cstatus(p: &Pod, init: bool) -> serde_json::Value {
    let s = serde_json::to_value(p.status.as_ref().unwrap()).unwrap();
    let key = if init {
        "initContainerStatuses"
    } else {
        "containerStatuses"
    };
    s[key].clone()
}

pub async fn wait_until<F, Fut>(what: &str, f: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether the tests run as root; if not, says that `test` is skipped because an agent that
/// is not root makes no namespaces.
pub fn root_or_skip(test: &str) -> bool {
    let root = is_root();
    if !root {
        eprintln!("skipped {test}: an agent that is not root makes no namespaces");
    }
    root
}

/// Whether the tests run as root, by effective user (the agent then makes namespaces and
/// mounts).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}

/// Whether any process has `marker` in its command line.
pub fn process_with(marker: &str) -> bool {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .any(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(marker))
                .unwrap_or(false)
        })
}
