//! Running several whole-system scenarios side by side against one server, each in its own
//! namespace, and reporting every failure (not just the first): the scenarios mostly wait on
//! processes and controllers, so running them together keeps the suite's wall time down.

use crate::harness::Server;
use serde_json::Value;
use std::time::{Duration, Instant};

/// One namespace of a server.
pub struct Ns<'a> {
    pub server: &'a Server,
    pub name: String,
}

impl<'a> Ns<'a> {
    /// Creates namespace `name`.
    pub fn new(server: &'a Server, name: &str) -> Ns<'a> {
        server.kubectl_ok(&["create", "namespace", name]);
        Ns {
            server,
            name: name.to_string(),
        }
    }

    fn with_ns<'b>(&'b self, args: &[&'b str]) -> Vec<&'b str> {
        let mut v = args.to_vec();
        v.extend(["-n", self.name.as_str()]);
        v
    }

    /// kubectl in this namespace that must succeed; returns stdout.
    pub fn k(&self, args: &[&str]) -> String {
        self.server.kubectl_ok(&self.with_ns(args))
    }

    /// kubectl in this namespace; returns (success, stdout, stderr).
    pub fn try_k(&self, args: &[&str]) -> (bool, String, String) {
        let out = self.server.kubectl(&self.with_ns(args));
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Creates the objects of a JSON or YAML document.
    pub fn create(&self, doc: &str) {
        let out = self
            .server
            .kubectl_with(&self.with_ns(&["create", "-f", "-"]), Some(doc), &[]);
        assert!(
            out.status.success(),
            "[{}] kubectl create failed: {}\n{doc}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `kubectl get KIND NAME -o json`, parsed.
    pub fn json(&self, kind: &str, name: &str) -> Value {
        serde_json::from_str(&self.k(&["get", kind, name, "-o", "json"])).unwrap()
    }

    /// The items of `kubectl get KIND -l SELECTOR -o json`.
    pub fn items(&self, kind: &str, selector: &str) -> Vec<Value> {
        let list: Value =
            serde_json::from_str(&self.k(&["get", kind, "-l", selector, "-o", "json"])).unwrap();
        list["items"].as_array().cloned().unwrap_or_default()
    }

    /// `kubectl wait --for=condition=COND job/NAME`, bounded.
    pub fn wait_job(&self, name: &str, condition: &str, timeout_s: u32) {
        let job = format!("job/{name}");
        let cond = format!("--for=condition={condition}");
        let timeout = format!("--timeout={timeout_s}s");
        let (ok, out, err) = self.try_k(&["wait", &cond, &job, &timeout]);
        assert!(
            ok,
            "[{}] {job} never got {condition}: {err}{out}\n{}",
            self.name,
            self.k(&["get", "job", name, "-o", "yaml"])
        );
    }

    /// Polls `check` every 100 ms until it holds or `limit` passes.
    pub fn wait_for(&self, limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if check() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "[{}] timed out after {limit:?} waiting for {what}",
            self.name
        );
    }
}

/// A named scenario.
pub type Scenario<'a> = (&'static str, Box<dyn FnOnce() + Send + 'a>);

/// Runs every scenario on its own thread and fails with all their failures.
pub fn run_all(server: &Server, scenarios: Vec<Scenario<'_>>) {
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = scenarios
            .into_iter()
            .map(|(name, f)| {
                let start = Instant::now();
                (
                    name,
                    scope.spawn(move || {
                        f();
                        start.elapsed()
                    }),
                )
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|(name, h)| match h.join() {
                Ok(took) => {
                    eprintln!("scenario {name}: ok in {:.1}s", took.as_secs_f64());
                    None
                }
                Err(panic) => {
                    let msg = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    Some(format!("scenario {name} failed: {msg}"))
                }
            })
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{}\n\nserver log:\n{}",
        failures.join("\n\n"),
        server.log()
    );
}

/// A Job as JSON: `spec` fields merged over a one-container template running `script`.
pub fn job(name: &str, script: &str, spec: Value, pod: Value) -> String {
    let mut template = serde_json::json!({
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 2,
        "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", script]}],
    });
    merge(&mut template, pod);
    let mut job_spec = serde_json::json!({"template": {"spec": template}});
    merge(&mut job_spec, spec);
    serde_json::json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name},
        "spec": job_spec,
    })
    .to_string()
}

fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o,
    }
}
