//! Pods calling the API as their service account, with genuine kubectl and the official
//! Python client: both inside a Job's pod (in-cluster configuration: the token, `ca.crt` and
//! namespace at `/var/run/secrets/kubernetes.io/serviceaccount`, `KUBERNETES_SERVICE_HOST`
//! and `_PORT`), and `kubectl create token` outside one.

use crate::harness::{Server, run_bounded, wait_until};
use std::process::{Command, Output};
use std::time::Duration;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// kubectl with nothing but a bearer token and the server's CA (no kubeconfig).
/// The claims of a JSON Web Token (its payload, not checked).
fn claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.trim().split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

fn kubectl_as(s: &Server, token: &str, args: &[&str]) -> Output {
    let ca = s.data_dir.join("tls/ca.crt");
    let mut cmd = Command::new("kubectl");
    cmd.args([
        "--kubeconfig=/dev/null",
        &format!("--server={}", s.url),
        &format!("--certificate-authority={}", ca.display()),
        &format!("--token={token}"),
    ])
    .args(args);
    run_bounded(cmd, None, Duration::from_secs(60))
}

/// The Python interpreter the tests use, by its full path (a pod's `PATH` may not find it).
fn python() -> String {
    let mut cmd = Command::new("python3");
    cmd.args(["-c", "import sys; print(sys.executable)"]);
    let out = run_bounded(cmd, None, Duration::from_secs(30));
    text(&out.stdout).trim().to_string()
}

fn job(name: &str, command: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never{extra_spec}
      containers:
      - name: c
        image: busybox
        command: [\"sh\", \"-c\", {command:?}]
"
    )
}

#[test]
fn a_job_s_pod_calls_the_api_as_its_service_account_with_kubectl_and_python() {
    let s = Server::start();
    // Every namespace has the CA (the root CA publisher), the same the server's kubeconfig
    // trusts.
    let ca = s.kubectl_ok(&[
        "get",
        "configmap",
        "kube-root-ca.crt",
        "-o",
        "jsonpath={.data.ca\\.crt}",
    ]);
    let ca_file = std::fs::read_to_string(s.data_dir.join("tls/ca.crt")).expect("ca");
    assert_eq!(ca.trim(), ca_file.trim());

    s.kubectl_ok(&[
        "create",
        "configmap",
        "seen-by-the-pod",
        "--from-literal=k=v",
    ]);
    let python_check = format!(
        "{} -c \"from kubernetes import client, config; config.load_incluster_config(); \
         print('python', client.CoreV1Api().read_namespaced_config_map('seen-by-the-pod', \
         open('/var/run/secrets/kubernetes.io/serviceaccount/namespace').read()).data['k'])\"",
        python()
    );
    let command = format!(
        "cat /var/run/secrets/kubernetes.io/serviceaccount/namespace; echo; \
         echo \"host $KUBERNETES_SERVICE_HOST port $KUBERNETES_SERVICE_PORT\"; \
         kubectl auth whoami -o jsonpath='{{.status.userInfo.username}}'; echo; \
         kubectl get configmap seen-by-the-pod -o jsonpath='kubectl {{.data.k}}'; echo; \
         {python_check}"
    );
    s.kubectl_stdin(&["apply", "-f", "-"], &job("inside", &command, ""));
    let done = s.kubectl(&[
        "wait",
        "--for=condition=complete",
        "job/inside",
        "--timeout=50s",
    ]);
    let logs = s.kubectl(&["logs", "job/inside"]);
    assert!(
        done.status.success(),
        "{}\n{}",
        text(&done.stderr),
        text(&logs.stdout)
    );
    let port = s.url.rsplit(':').next().expect("port");
    assert_eq!(
        text(&logs.stdout),
        format!(
            "default\nhost 127.0.0.1 port {port}\nsystem:serviceaccount:default:default\n\
             kubectl v\npython v\n"
        )
    );

    // The pod got upstream's volume and mount.
    let pod = s.kubectl_ok(&[
        "get",
        "pods",
        "-l",
        "job-name=inside",
        "-o",
        "jsonpath={.items[0].spec.volumes[0].name} {.items[0].spec.volumes[0].projected.sources[0]} \
         {.items[0].spec.containers[0].volumeMounts[0]}",
    ]);
    assert!(pod.starts_with("kube-api-access-"), "{pod}");
    assert!(
        pod.contains(r#"{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}}"#),
        "{pod}"
    );
    assert!(
        pod.contains(r#""mountPath":"/var/run/secrets/kubernetes.io/serviceaccount""#)
            && pod.contains(r#""readOnly":true"#),
        "{pod}"
    );
}

#[test]
fn tokens_are_issued_checked_and_refused_as_upstream() {
    let s = Server::start();
    let discovery = s.kubectl_ok(&["get", "--raw", "/api/v1"]);
    assert!(
        discovery.contains(
            r#"{"name":"serviceaccounts/token","singularName":"","namespaced":true,"group":"authentication.k8s.io","version":"v1","kind":"TokenRequest","verbs":["create"]}"#
        ),
        "{discovery}"
    );
    s.kubectl_ok(&["create", "namespace", "team"]);
    wait_until(Duration::from_secs(30), "team's default account", || {
        s.kubectl(&["get", "serviceaccount", "default", "-n", "team"])
            .status
            .success()
    });
    s.kubectl_ok(&["create", "serviceaccount", "builder", "-n", "team"]);
    let token = s.kubectl_ok(&["create", "token", "builder", "-n", "team"]);
    let whoami = kubectl_as(&s, token.trim(), &["auth", "whoami"]);
    assert!(whoami.status.success(), "{}", text(&whoami.stderr));
    let said = text(&whoami.stdout);
    assert!(
        said.contains("system:serviceaccount:team:builder")
            && said.contains(
                "[system:serviceaccounts system:serviceaccounts:team system:authenticated]"
            ),
        "{said}"
    );
    let listed = kubectl_as(
        &s,
        token.trim(),
        &["get", "serviceaccounts", "-n", "team", "-o", "name"],
    );
    assert_eq!(
        text(&listed.stdout),
        "serviceaccount/builder\nserviceaccount/default\n",
        "{}",
        text(&listed.stderr)
    );

    // Issuer discovery names the key set, which has our one key.
    let config = s.kubectl_ok(&["get", "--raw", "/.well-known/openid-configuration"]);
    assert!(
        config.contains(r#""issuer":"https://kubernetes.default.svc.cluster.local""#)
            && config.contains(&format!(r#""jwks_uri":"{}/openid/v1/jwks""#, s.url)),
        "{config}"
    );
    let keys = s.kubectl_ok(&["get", "--raw", "/openid/v1/jwks"]);
    assert!(
        keys.contains(r#""kty":"EC""#) && keys.contains(r#""alg":"ES256""#),
        "{keys}"
    );

    // Refusals, in upstream's words.
    let short = s.kubectl(&["create", "token", "builder", "-n", "team", "--duration=5m"]);
    assert_eq!(
        text(&short.stderr),
        "error: failed to create token: TokenRequest.authentication.k8s.io \"\" is invalid: \
         spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes\n"
    );
    let missing = s.kubectl(&["create", "token", "nobody", "-n", "team"]);
    assert_eq!(
        text(&missing.stderr),
        "error: failed to create token: serviceaccounts \"nobody\" not found\n"
    );
    let raw = "/api/v1/namespaces/team/serviceaccounts/builder/token";
    for (body, said) in [
        (r#"{"spec": 5}"#, "the body is not a TokenRequest object"),
        (
            r#"{"spec": {"expirationSeconds": "long"}}"#,
            r#"spec.expirationSeconds: expected an integer, got "long""#,
        ),
        (
            r#"{"kind": "Pod", "spec": {}}"#,
            "the kind in the data (Pod) does not match the expected kind (TokenRequest)",
        ),
        (
            r#"{"spec": {"boundObjectRef": {"apiVersion": "batch/v1", "kind": "Job", "name": "j"}}}"#,
            "cannot bind token to object of type batch/v1, Kind=Job",
        ),
    ] {
        let out = s.kubectl_with(&["create", "--raw", raw, "-f", "-"], Some(body), &[]);
        assert!(
            !out.status.success() && text(&out.stderr).contains(said),
            "{body}: {}",
            text(&out.stderr)
        );
    }
    let forged = kubectl_as(&s, "eyJhbGciOiJFUzI1NiJ9.e30.c2ln", &["get", "pods"]);
    assert!(
        text(&forged.stderr).contains("Unauthorized"),
        "{}",
        text(&forged.stderr)
    );

    // A token bound to a pod is good while the pod is there, and no more once it is gone.
    s.kubectl_ok(&[
        "run",
        "holder",
        "-n",
        "team",
        "--image=busybox",
        "--restart=Never",
        "--overrides={\"spec\": {\"serviceAccountName\": \"builder\"}}",
        "--",
        "sleep",
        "300",
    ]);
    // Bound to a node first, so that its token names the node.
    let node_of_holder = || {
        s.kubectl_ok(&[
            "get",
            "pod",
            "holder",
            "-n",
            "team",
            "-o",
            "jsonpath={.spec.nodeName}",
        ])
    };
    wait_until(Duration::from_secs(30), "the pod bound", || {
        !node_of_holder().is_empty()
    });
    let token_of_holder = |extra: &[&str]| {
        let mut args = vec![
            "create",
            "token",
            "builder",
            "-n",
            "team",
            "--bound-object-kind=Pod",
            "--bound-object-name=holder",
        ];
        args.extend_from_slice(extra);
        s.kubectl_ok(&args)
    };
    let bound = token_of_holder(&[]);
    let c = claims(&bound);
    assert_eq!(c["kubernetes.io"]["pod"]["name"], "holder", "{c}");
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        3600
    );
    assert_eq!(
        c["kubernetes.io"]["node"]["name"],
        node_of_holder().as_str(),
        "{c}"
    );
    // What the kubelet asks for (3607 s) is made good for a year and says when to replace it.
    let kubelets = token_of_holder(&["--duration=3607s"]);
    let c = claims(&kubelets);
    let iat = c["iat"].as_i64().unwrap();
    assert_eq!(c["exp"].as_i64().unwrap() - iat, 365 * 24 * 3600, "{c}");
    assert_eq!(
        c["kubernetes.io"]["warnafter"].as_i64(),
        Some(iat + 3607),
        "{c}"
    );
    let wrong_account = s.kubectl(&[
        "create",
        "token",
        "default",
        "-n",
        "team",
        "--bound-object-kind=Pod",
        "--bound-object-name=holder",
    ]);
    assert_eq!(
        text(&wrong_account.stderr),
        "error: failed to create token: cannot bind token for serviceaccount \"default\" to pod \
         running with different serviceaccount name.\n"
    );
    s.kubectl_ok(&[
        "delete",
        "pod",
        "holder",
        "-n",
        "team",
        "--grace-period=0",
        "--force",
    ]);
    wait_until(Duration::from_secs(60), "the pod gone", || {
        !s.kubectl(&["get", "pod", "holder", "-n", "team"])
            .status
            .success()
    });
    let after = kubectl_as(&s, bound.trim(), &["auth", "whoami"]);
    assert!(
        !after.status.success() && text(&after.stderr).contains("Unauthorized"),
        "{}",
        text(&after.stderr)
    );

    // A pod whose account does not exist is refused; one that opts out gets no token.
    let refused = s.kubectl(&[
        "run",
        "lost",
        "-n",
        "team",
        "--image=busybox",
        "--restart=Never",
        "--overrides={\"spec\": {\"serviceAccountName\": \"ghost\"}}",
        "--",
        "true",
    ]);
    assert_eq!(
        text(&refused.stderr),
        "Error from server (Forbidden): pods \"lost\" is forbidden: error looking up service \
         account team/ghost: serviceaccount \"ghost\" not found\n"
    );
    s.kubectl_ok(&[
        "run",
        "quiet",
        "-n",
        "team",
        "--image=busybox",
        "--restart=Never",
        "--overrides={\"spec\": {\"automountServiceAccountToken\": false}}",
        "--",
        "true",
    ]);
    let volumes = s.kubectl_ok(&[
        "get",
        "pod",
        "quiet",
        "-n",
        "team",
        "-o",
        "jsonpath={.spec.volumes}",
    ]);
    assert_eq!(volumes, "");

    // The CA's ConfigMap comes back when deleted.
    s.kubectl_ok(&["delete", "configmap", "kube-root-ca.crt", "-n", "team"]);
    wait_until(Duration::from_secs(30), "the CA published again", || {
        s.kubectl(&["get", "configmap", "kube-root-ca.crt", "-n", "team"])
            .status
            .success()
    });
}
