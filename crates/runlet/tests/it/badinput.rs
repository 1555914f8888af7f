//! Bad input gets a clear Kubernetes Status and changes nothing: oversized and malformed
//! bodies, bad selectors, bad patches, unknown fields under `fieldValidation=Strict`, stale
//! revisions, and watches from compacted history.

use crate::harness::{Server, run_bounded, wait_until};
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

/// `curl` with the admin client certificate; returns (HTTP code, body).
fn curl(
    s: &Server,
    method: &str,
    path: &str,
    content_type: &str,
    body: Option<&[u8]>,
) -> (u16, String) {
    let tls = s.data_dir.join("tls");
    let body_file = s.data_dir.join("curl-body");
    let _ = std::fs::remove_file(s.data_dir.join("curl-headers"));
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, "-D"])
        .arg(s.data_dir.join("curl-headers"))
        .arg("--cacert")
        .arg(tls.join("ca.crt"))
        .arg("--cert")
        .arg(tls.join("admin.crt"))
        .arg("--key")
        .arg(tls.join("admin.key"))
        .args(["-H", &format!("Content-Type: {content_type}")]);
    if let Some(b) = body {
        std::fs::write(&body_file, b).unwrap();
        cmd.arg("--data-binary")
            .arg(format!("@{}", body_file.display()));
    }
    cmd.arg(format!("{}{path}", s.url));
    let out = run_bounded(cmd, None, Duration::from_secs(60));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// A header of the last [`curl`]'s answer.
fn last_header(s: &Server, name: &str) -> Option<String> {
    let headers = std::fs::read_to_string(s.data_dir.join("curl-headers")).unwrap_or_default();
    headers.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name)
            .then(|| value.trim().to_string())
    })
}

fn status(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("a Status body ({e}): {body}"))
}

const CMS: &str = "/api/v1/namespaces/default/configmaps";

/// Waits for the ConfigMap every namespace gets (the root CA publisher's), so that the lists
/// below know what they hold besides the test's own.
fn wait_for_root_ca(s: &Server) {
    wait_until(Duration::from_secs(30), "kube-root-ca.crt", || {
        s.kubectl(&["get", "cm", "kube-root-ca.crt"])
            .status
            .success()
    });
}

#[test]
fn malformed_and_oversized_bodies_are_4xx_statuses_and_store_nothing() {
    let s = Server::start();
    wait_for_root_ca(&s);
    let (code, body) = curl(
        &s,
        "POST",
        CMS,
        "application/json",
        Some(b"{\"metadata\": {\"name\": "),
    );
    assert_eq!(code, 400, "{body}");
    assert_eq!(status(&body)["reason"], "BadRequest");

    let (code, body) = curl(
        &s,
        "POST",
        CMS,
        "application/yaml",
        Some(b"metadata: [unclosed"),
    );
    assert_eq!(code, 400, "{body}");

    let (code, body) = curl(
        &s,
        "POST",
        CMS,
        "application/vnd.kubernetes.protobuf",
        Some(b"k8s\0\xff\xff\xff"),
    );
    assert_eq!(code, 400, "{body}");

    let (code, body) = curl(&s, "POST", CMS, "application/json", Some(b"[1, 2, 3]"));
    assert_eq!(code, 400, "{body}");

    let (code, body) = curl(
        &s,
        "POST",
        CMS,
        "application/json",
        Some(br#"{"metadata":{"name":"x"},"data":{"a":5}}"#),
    );
    assert_eq!(code, 400, "a number where a string belongs: {body}");

    let mut huge = br#"{"metadata":{"name":"huge"},"data":{"a":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'x', 4 * 1024 * 1024));
    huge.extend(br#""}}"#);
    let (code, body) = curl(&s, "POST", CMS, "application/json", Some(&huge));
    assert_eq!(code, 413, "{body}");
    assert_eq!(status(&body)["reason"], "RequestEntityTooLarge");

    let (code, body) = curl(&s, "POST", CMS, "text/plain", Some(b"hello"));
    assert_eq!(code, 415, "{body}");

    let (_, list) = curl(&s, "GET", CMS, "application/json", None);
    let names: Vec<Value> = status(&list)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].clone())
        .collect();
    assert_eq!(
        names,
        vec![serde_json::json!("kube-root-ca.crt")],
        "nothing was stored"
    );
    assert!(
        s.kubectl(&["get", "ns"]).status.success(),
        "the server is still serving"
    );
}

#[test]
fn bad_selectors_and_patches_are_rejected_with_a_reason() {
    let s = Server::start();
    s.kubectl_ok(&["create", "cm", "c", "--from-literal=a=1"]);
    let (code, body) = curl(
        &s,
        "GET",
        &format!("{CMS}?labelSelector=a%20in%20(b"),
        "application/json",
        None,
    );
    assert_eq!(code, 400, "{body}");
    let (code, body) = curl(
        &s,
        "GET",
        "/api/v1/pods?fieldSelector=spec.bogus%3Dx",
        "application/json",
        None,
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        status(&body)["message"]
            .as_str()
            .unwrap()
            .contains("field label not supported"),
        "{body}"
    );

    let (code, body) = curl(
        &s,
        "PATCH",
        &format!("{CMS}/c"),
        "application/json-patch+json",
        Some(br#"[{"op":"test","path":"/data/a","value":"2"}]"#),
    );
    assert_eq!(code, 422, "a failed test op: {body}");
    let (code, body) = curl(
        &s,
        "PATCH",
        &format!("{CMS}/c"),
        "application/strategic-merge-patch+json",
        Some(br#"{"data":{"$patch":"explode"}}"#),
    );
    assert_eq!(code, 400, "{body}");
    let (code, body) = curl(
        &s,
        "PATCH",
        &format!("{CMS}/c"),
        "application/merge-patch+json",
        Some(b"not json"),
    );
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        s.kubectl_ok(&["get", "cm", "c", "-o", "jsonpath={.data.a}"]),
        "1",
        "unchanged"
    );

    let (code, body) = curl(
        &s,
        "PUT",
        &format!("{CMS}/c"),
        "application/json",
        Some(br#"{"metadata":{"name":"c","resourceVersion":"1"},"data":{"a":"2"}}"#),
    );
    assert_eq!(code, 409, "stale resourceVersion: {body}");
    assert_eq!(status(&body)["reason"], "Conflict");

    // A UID in a patch is a precondition (upstream ValidateObjectMetaUpdate: immutable).
    let (code, body) = curl(
        &s,
        "PATCH",
        &format!("{CMS}/c"),
        "application/merge-patch+json",
        Some(br#"{"metadata":{"uid":"not-the-uid"},"data":{"a":"3"}}"#),
    );
    assert_eq!(code, 422, "{body}");
    assert_eq!(
        status(&body)["details"]["causes"][0]["field"],
        "metadata.uid"
    );
    let uid = s.kubectl_ok(&["get", "cm", "c", "-o", "jsonpath={.metadata.uid}"]);
    let patch = format!(r#"{{"metadata":{{"uid":"{uid}"}},"data":{{"a":"3"}}}}"#);
    let (code, body) = curl(
        &s,
        "PATCH",
        &format!("{CMS}/c"),
        "application/merge-patch+json",
        Some(patch.as_bytes()),
    );
    assert_eq!(code, 200, "the right UID: {body}");

    // A patch cannot rename the object (upstream's `checkName`), nor does it pass in silence.
    let (code, body) = curl(
        &s,
        "PATCH",
        &format!("{CMS}/c"),
        "application/merge-patch+json",
        Some(br#"{"metadata":{"name":"d"},"data":{"a":"4"}}"#),
    );
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        status(&body)["message"],
        "the name of the object (d) does not match the name on the URL (c)"
    );
    assert_eq!(
        s.kubectl_ok(&["get", "cm", "c", "-o", "jsonpath={.data.a}"]),
        "3",
        "unchanged"
    );
    // A path the server does not serve is NotFound with (empty) details, which kubectl reads
    // (`kubectl debug` on a server without ephemeral containers).
    let (code, body) = curl(
        &s,
        "PATCH",
        &format!("{CMS}/c/nosuchsubresource"),
        "application/strategic-merge-patch+json",
        Some(b"{}"),
    );
    assert_eq!(code, 404, "{body}");
    assert_eq!(status(&body)["details"], serde_json::json!({}), "{body}");
}

#[test]
fn strict_field_validation_names_unknown_fields() {
    let s = Server::start();
    let doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: strict\ndata:\n  a: \"1\"\nbogus: true\n";
    let out = s.kubectl_with(&["create", "-f", "-", "--validate=strict"], Some(doc), &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown field") && err.contains("bogus"),
        "{err}"
    );
    let (code, body) = curl(
        &s,
        "POST",
        &format!("{CMS}?fieldValidation=Strict"),
        "application/json",
        Some(br#"{"metadata":{"name":"s"},"bogus":1}"#),
    );
    assert_eq!(code, 400);
    assert_eq!(
        status(&body)["message"],
        r#"ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "bogus""#
    );
    let (code, _) = curl(
        &s,
        "POST",
        &format!("{CMS}?fieldValidation=Ignore"),
        "application/json",
        Some(br#"{"metadata":{"name":"s"},"bogus":1}"#),
    );
    assert_eq!(code, 201, "Ignore drops the field and creates");
    let (code, body) = curl(
        &s,
        "POST",
        &format!("{CMS}?fieldValidation=Strict"),
        "application/json",
        Some(br#"{"metadata":{"name":"d","name":"e"}}"#),
    );
    assert_eq!(code, 400);
    assert_eq!(
        status(&body)["message"],
        r#"ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: duplicate field "metadata.name""#
    );
}

#[test]
fn chunked_lists_page_through_everything() {
    let s = Server::start();
    wait_for_root_ca(&s);
    for i in 0..7 {
        s.kubectl_ok(&["create", "cm", &format!("c{i}"), "--from-literal=a=1"]);
    }
    // The seven and kube-root-ca.crt.
    let names = s.kubectl_ok(&["get", "cm", "--chunk-size=2", "-o", "name"]);
    assert_eq!(names.lines().count(), 8, "{names}");
    let (_, page) = curl(
        &s,
        "GET",
        &format!("{CMS}?limit=3"),
        "application/json",
        None,
    );
    let page = status(&page);
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    assert_eq!(page["metadata"]["remainingItemCount"], 5, "{page}");
    let token = page["metadata"]["continue"]
        .as_str()
        .expect("a continue token");
    let (_, rest) = curl(
        &s,
        "GET",
        &format!("{CMS}?limit=10&continue={token}"),
        "application/json",
        None,
    );
    let rest = status(&rest);
    assert_eq!(rest["items"].as_array().unwrap().len(), 5);
    assert!(rest["metadata"].get("continue").is_none());
    assert!(rest["metadata"].get("remainingItemCount").is_none());
    // With a selector the remaining objects are not counted, as upstream's.
    let (_, selected) = curl(
        &s,
        "GET",
        &format!("{CMS}?limit=1&fieldSelector=metadata.namespace%3Ddefault"),
        "application/json",
        None,
    );
    let selected = status(&selected);
    assert!(selected["metadata"]["continue"].is_string(), "{selected}");
    assert!(selected["metadata"].get("remainingItemCount").is_none());
    // A continue token carries its revision: another one is refused.
    let (code, body) = curl(
        &s,
        "GET",
        &format!("{CMS}?limit=10&continue={token}&resourceVersion=1"),
        "application/json",
        None,
    );
    assert_eq!(code, 400);
    assert_eq!(
        status(&body)["message"],
        "specifying resource version is not allowed when using continue"
    );
}

#[test]
fn watch_with_initial_events_ends_them_with_a_bookmark() {
    let s = Server::start();
    s.kubectl_ok(&["create", "cm", "one", "--from-literal=a=1"]);
    let (code, body) = curl(
        &s,
        "GET",
        &format!(
            "{CMS}?watch=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1"
        ),
        "application/json",
        None,
    );
    assert_eq!(code, 200);
    let events: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "ADDED" && e["object"]["metadata"]["name"] == "one"),
        "{body}"
    );
    let bookmark = events
        .iter()
        .find(|e| e["type"] == "BOOKMARK")
        .expect("a bookmark");
    assert_eq!(
        bookmark["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
}

/// The deprecated watch paths upstream still serves: a collection, and one object by name.
#[test]
fn deprecated_watch_paths_watch() {
    let s = Server::start();
    s.kubectl_ok(&["create", "cm", "one", "--from-literal=a=1"]);
    s.kubectl_ok(&["create", "cm", "two", "--from-literal=a=1"]);
    let watched = |path: &str| -> Vec<String> {
        let (code, body) = curl(&s, "GET", path, "application/json", None);
        assert_eq!(code, 200, "{body}");
        body.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|e| e["type"] == "ADDED")
            .map(|e| {
                e["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let all = watched("/api/v1/watch/namespaces/default/configmaps?timeoutSeconds=1");
    assert!(
        all.contains(&"one".into()) && all.contains(&"two".into()),
        "{all:?}"
    );
    let one = watched("/api/v1/watch/namespaces/default/configmaps/one?timeoutSeconds=1");
    assert_eq!(one, ["one"]);
}

#[test]
fn watch_from_compacted_revision_is_410_expired() {
    let dir = tempfile::tempdir().unwrap();
    // Short history so compaction happens within the test.
    let s = Server::start_in_with(dir.path(), &["--history-seconds", "1"]);
    s.kubectl_ok(&["create", "cm", "old", "--from-literal=a=1"]);
    wait_until(
        Duration::from_secs(30),
        "revision 1 to be compacted",
        || {
            s.kubectl_ok(&[
                "create",
                "cm",
                &format!("tick-{}", rand_suffix()),
                "--from-literal=a=1",
            ]);
            let (_, body) = curl(
                &s,
                "GET",
                &format!("{CMS}?watch=1&resourceVersion=1&timeoutSeconds=1"),
                "application/json",
                None,
            );
            body.contains("\"ERROR\"") && body.contains("410") && body.contains("Expired")
        },
    );
    let (code, body) = curl(
        &s,
        "GET",
        &format!("{CMS}?resourceVersion=1&resourceVersionMatch=Exact"),
        "application/json",
        None,
    );
    assert_eq!(code, 410, "{body}");
    assert_eq!(
        status(&body)["message"],
        "The resourceVersion for the provided list is too old."
    );
    // An expired continue token: upstream's `handleCompactedErrorForPaging` gives a token
    // for the rest of the list as it is now.
    let (code, body) = curl(
        &s,
        "GET",
        &format!("{CMS}?limit=1"),
        "application/json",
        None,
    );
    assert_eq!(code, 200, "{body}");
    let token = status(&body)["metadata"]["continue"]
        .as_str()
        .unwrap()
        .to_string();
    let mut expired = Value::Null;
    wait_until(Duration::from_secs(30), "the token to expire", || {
        s.kubectl_ok(&[
            "create",
            "cm",
            &format!("tick-{}", rand_suffix()),
            "--from-literal=a=1",
        ]);
        let (code, body) = curl(
            &s,
            "GET",
            &format!("{CMS}?limit=1&continue={token}"),
            "application/json",
            None,
        );
        expired = status(&body);
        code == 410
    });
    assert_eq!(expired["reason"], "Expired", "{expired}");
    let fresh = expired["metadata"]["continue"].as_str().unwrap();
    let (code, body) = curl(
        &s,
        "GET",
        &format!("{CMS}?limit=1&continue={fresh}"),
        "application/json",
        None,
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(status(&body)["items"].as_array().map(Vec::len), Some(1));
}

/// A DeleteOptions that does not decode (a `dryRun` that is no list, another kind) is a 400
/// and deletes nothing, for a delete and for an eviction alike.
#[test]
fn delete_options_that_do_not_decode_delete_nothing() {
    let s = Server::start();
    s.kubectl_ok(&["create", "cm", "kept", "--from-literal=a=1"]);
    for body in [
        r#"{"dryRun":"All"}"#,
        r#"{"gracePeriodSeconds":"x"}"#,
        r#"{"preconditions":"x"}"#,
        "[1]",
        r#"{"kind":"Job"}"#,
    ] {
        let (code, answer) = curl(
            &s,
            "DELETE",
            &format!("{CMS}/kept"),
            "application/json",
            Some(body.as_bytes()),
        );
        assert_eq!(code, 400, "{body}: {answer}");
        assert_eq!(status(&answer)["reason"], "BadRequest", "{answer}");
    }
    s.kubectl_ok(&["get", "cm", "kept"]);
    s.kubectl_stdin(
        &["create", "-f", "-"],
        "apiVersion: v1\nkind: Pod\nmetadata: {name: waits}\nspec:\n  schedulerName: nobody\n  containers: [{name: c, image: busybox, command: ['true']}]\n",
    );
    let eviction = r#"{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"waits"},"deleteOptions":{"dryRun":"All"}}"#;
    let (code, answer) = curl(
        &s,
        "POST",
        "/api/v1/namespaces/default/pods/waits/eviction",
        "application/json",
        Some(eviction.as_bytes()),
    );
    assert_eq!(code, 400, "{answer}");
    let pod = s.kubectl_ok(&["get", "pod", "waits", "-o", "json"]);
    assert!(
        !pod.contains("deletionTimestamp") && !pod.contains("DisruptionTarget"),
        "{pod}"
    );
}

/// Writes that name another object than the one at the URL, as upstream answers them: a PUT
/// whose UID is not the stored object's is a conflict (the UID is its precondition), a patch
/// that moves the object to another namespace a 400; a PATCH of no patch type is a 415 that
/// lists the patch types.
#[test]
fn writes_naming_another_object_are_refused_as_upstream() {
    let s = Server::start();
    s.kubectl_ok(&["create", "cm", "mine", "--from-literal=a=1"]);
    let mut cm: Value =
        serde_json::from_str(&s.kubectl_ok(&["get", "cm", "mine", "-o", "json"])).unwrap();
    let uid = cm["metadata"]["uid"].as_str().unwrap().to_string();
    cm["metadata"]["uid"] = "another".into();
    let body = cm.to_string();
    let (code, answer) = curl(
        &s,
        "PUT",
        &format!("{CMS}/mine"),
        "application/json",
        Some(body.as_bytes()),
    );
    assert_eq!(code, 409, "{answer}");
    assert_eq!(
        status(&answer)["message"],
        format!(
            "Operation cannot be fulfilled on configmaps \"mine\": Precondition failed: UID in precondition: another, UID in object meta: {uid}"
        )
    );
    let moved = br#"{"metadata":{"namespace":"kube-system"}}"#;
    let (code, answer) = curl(
        &s,
        "PATCH",
        &format!("{CMS}/mine"),
        "application/merge-patch+json",
        Some(moved),
    );
    assert_eq!(code, 400, "{answer}");
    assert_eq!(
        status(&answer)["message"],
        "the namespace of the object (kube-system) does not match the namespace on the request (default)"
    );
    let (code, answer) = curl(
        &s,
        "PATCH",
        &format!("{CMS}/mine"),
        "application/json",
        Some(b"{}"),
    );
    assert_eq!(code, 415, "{answer}");
    assert!(
        status(&answer)["message"]
            .as_str()
            .is_some_and(|m| m.ends_with("include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml")),
        "{answer}"
    );
}

/// Reads at resourceVersions as upstream serves them: one the store has not reached is a 504
/// "Timeout: Too large resource version" with `Retry-After`, for a list and a get alike; a
/// list with a resourceVersion and a limit is the list as it was then (the legacy exact
/// match); a watch with `sendInitialEvents=false` starts from now, with no initial events.
#[test]
fn reads_at_resource_versions_answer_as_upstream() {
    let s = Server::start();
    s.kubectl_ok(&["create", "cm", "early", "--from-literal=a=1"]);
    let then = s.kubectl_ok(&[
        "get",
        "cm",
        "early",
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ]);
    s.kubectl_ok(&["label", "cm", "early", "changed=yes"]);
    for path in [
        format!("{CMS}?resourceVersion=999999"),
        format!("{CMS}/early?resourceVersion=999999"),
    ] {
        let (code, body) = curl(&s, "GET", &path, "application/json", None);
        assert_eq!(code, 504, "{body}");
        let status = status(&body);
        assert!(
            status["message"].as_str().is_some_and(
                |m| m.starts_with("Timeout: Too large resource version: 999999, current: ")
            ),
            "{status}"
        );
        assert_eq!(
            status["details"]["causes"][0]["reason"],
            "ResourceVersionTooLarge"
        );
        assert_eq!(last_header(&s, "retry-after").as_deref(), Some("1"));
    }
    let (code, body) = curl(
        &s,
        "GET",
        &format!("{CMS}?resourceVersion={then}&limit=10"),
        "application/json",
        None,
    );
    assert_eq!(code, 200, "{body}");
    let list = status(&body);
    assert_eq!(list["metadata"]["resourceVersion"], then.as_str(), "{list}");
    let early = list["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["metadata"]["name"] == "early"))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(
        early["metadata"].get("labels").is_none(),
        "as it was: {early}"
    );
    let (code, body) = curl(
        &s,
        "GET",
        &format!(
            "{CMS}?watch=1&sendInitialEvents=false&resourceVersionMatch=NotOlderThan&timeoutSeconds=1"
        ),
        "application/json",
        None,
    );
    assert_eq!(code, 200, "{body}");
    assert!(!body.contains("early"), "no initial events: {body}");
}

fn rand_suffix() -> u32 {
    use rand::Rng;
    rand::rng().random()
}

/// A deletion left pending (finalizers) answers 200 with the object, and 202 only when the
/// deprecated `orphanDependents: false` was said, as upstream's delete handler; a Job deleted
/// without a propagation policy keeps its pods and says so in a warning.
#[test]
fn pending_deletions_answer_200_and_a_job_deleted_by_default_warns_of_its_pods() {
    let s = Server::start();
    for name in ["held", "held-too"] {
        let cm = format!(
            r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}","finalizers":["example.com/hold"]}}}}"#
        );
        let (code, body) = curl(&s, "POST", CMS, "application/json", Some(cm.as_bytes()));
        assert_eq!(code, 201, "{body}");
    }
    let (code, body) = curl(
        &s,
        "DELETE",
        &format!("{CMS}/held"),
        "application/json",
        None,
    );
    assert_eq!(code, 200, "{body}");
    assert!(
        status(&body)["metadata"]["deletionTimestamp"].is_string(),
        "{body}"
    );
    let (code, body) = curl(
        &s,
        "DELETE",
        &format!("{CMS}/held-too"),
        "application/json",
        Some(br#"{"orphanDependents": false}"#),
    );
    assert_eq!(code, 202, "{body}");

    s.kubectl_stdin(
        &["apply", "-f", "-"],
        r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"kept"},
            "spec":{"suspend":true,"template":{"spec":{"restartPolicy":"Never",
            "containers":[{"name":"c","image":"busybox","command":["true"]}]}}}}"#,
    );
    let out = s.kubectl(&[
        "delete",
        "--raw",
        "/apis/batch/v1/namespaces/default/jobs/kept",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "Warning: child pods are preserved by default when jobs are deleted; set \
             propagationPolicy=Background to remove them or set propagationPolicy=Orphan to \
             suppress this warning"
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A pod has a `metadata.generation` from its creation, as upstream 1.33's pod strategy sets
/// it: its binding leaves it, a change of its spec bumps it, and a status write does not.
#[test]
fn a_pod_s_generation_counts_changes_of_its_spec() {
    let s = Server::start();
    s.kubectl_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Pod\nmetadata: {name: counted}\nspec:\n  restartPolicy: Never\n  containers: [{name: c, image: busybox, command: [sleep, '30']}]\n",
    );
    s.kubectl_ok(&[
        "wait",
        "--for=jsonpath={.status.phase}=Running",
        "pod/counted",
        "--timeout=60s",
    ]);
    let generation = || {
        s.kubectl_ok(&[
            "get",
            "pod",
            "counted",
            "-o",
            "jsonpath={.metadata.generation}",
        ])
    };
    assert_eq!(
        generation(),
        "1",
        "bound and running: still its first generation"
    );
    s.kubectl_ok(&[
        "patch",
        "pod",
        "counted",
        "--type=merge",
        "-p",
        r#"{"spec":{"activeDeadlineSeconds":600}}"#,
    ]);
    assert_eq!(generation(), "2");
    s.kubectl_ok(&[
        "delete",
        "pod",
        "counted",
        "--grace-period=5",
        "--wait=false",
    ]);
    // Marked deleted: its generation bumped, and no `finalizers: []` (an `omitempty` field).
    let deleting: serde_json::Value =
        serde_json::from_str(&s.kubectl_ok(&["get", "pod", "counted", "-o", "json"])).unwrap();
    let metadata = &deleting["metadata"];
    assert!(metadata["deletionTimestamp"].is_string(), "{metadata}");
    assert_eq!(metadata["generation"], 3, "{metadata}");
    assert!(metadata.get("finalizers").is_none(), "{metadata}");
    s.kubectl_ok(&["wait", "--for=delete", "pod/counted", "--timeout=60s"]);
}

/// Takes the finalizers off the object `what` names (kind, name and any flags), so it goes.
fn release(s: &Server, what: &[&str]) {
    let mut args = vec!["patch"];
    args.extend_from_slice(what);
    args.extend(["--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#]);
    s.kubectl_ok(&args);
}

/// A write into a terminating namespace is refused with upstream's cause, which clients look
/// for to tell a namespace's teardown from a real failure.
#[test]
fn a_terminating_namespace_refuses_new_content_with_its_cause() {
    let s = Server::start();
    s.kubectl_ok(&["create", "ns", "closing"]);
    s.kubectl_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  namespace: closing\n  finalizers: [example.com/hold]\n",
    );
    s.kubectl_ok(&["delete", "ns", "closing", "--wait=false"]);
    let (code, body) = curl(
        &s,
        "POST",
        "/api/v1/namespaces/closing/configmaps",
        "application/json",
        Some(br#"{"metadata":{"name":"late"}}"#),
    );
    assert_eq!(code, 403, "{body}");
    let refused = status(&body);
    assert_eq!(
        refused["details"]["causes"],
        serde_json::json!([{"reason": "NamespaceTerminating",
            "message": "namespace closing is being terminated", "field": "metadata.namespace"}])
    );
    release(&s, &["cm", "held", "-n", "closing"]);
}

/// Deletion as upstream's `BeforeDelete`: preconditions in its words, a negative grace period
/// taken as one second, a shorter one moving the deletion up by the difference, the
/// generation bumped when the object is marked, and a name held by an object being deleted
/// said to be so.
#[test]
fn deletion_follows_upstream_before_delete() {
    let s = Server::start();
    s.kubectl_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Pod\nmetadata: {name: slow, finalizers: [example.com/hold]}\nspec:\n  terminationGracePeriodSeconds: 60\n  containers: [{name: c, image: busybox, command: [sh, -c, \"trap '' TERM; sleep 600\"]}]\n",
    );
    s.kubectl_ok(&[
        "wait",
        "--for=jsonpath={.status.phase}=Running",
        "pod/slow",
        "--timeout=60s",
    ]);
    let path = "/api/v1/namespaces/default/pods/slow";
    let (code, body) = curl(
        &s,
        "DELETE",
        path,
        "application/json",
        Some(br#"{"preconditions":{"uid":"nope"}}"#),
    );
    assert_eq!(code, 409);
    let message = status(&body)["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.starts_with("Operation cannot be fulfilled on Pod \"slow\": the UID in the precondition (nope) does not match the UID in record (")
            && message.ends_with("). The object might have been deleted and then recreated"),
        "{message}"
    );
    let (code, _) = curl(&s, "DELETE", path, "application/json", Some(b"{}"));
    assert_eq!(code, 200);
    let pod = |field: &str| {
        s.kubectl_ok(&[
            "get",
            "pod",
            "slow",
            "-o",
            &format!("jsonpath={{.metadata.{field}}}"),
        ])
    };
    assert_eq!(
        pod("generation"),
        "2",
        "marked for deletion: a new generation"
    );
    let first = runlet_api::clock::parse_rfc3339(&pod("deletionTimestamp")).unwrap();
    let (code, _) = curl(
        &s,
        "DELETE",
        path,
        "application/json",
        Some(br#"{"gracePeriodSeconds":-5}"#),
    );
    assert_eq!(code, 200);
    assert_eq!(
        pod("deletionGracePeriodSeconds"),
        "1",
        "a negative period is one second"
    );
    let moved = runlet_api::clock::parse_rfc3339(&pod("deletionTimestamp")).unwrap();
    assert_eq!(moved, first - 59, "moved up by the difference");
    let (code, body) = curl(
        &s,
        "POST",
        "/api/v1/namespaces/default/pods",
        "application/json",
        Some(br#"{"metadata":{"name":"slow"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}"#),
    );
    assert_eq!(code, 409);
    assert_eq!(
        status(&body)["message"],
        "object is being deleted: pods \"slow\" already exists"
    );
    release(&s, &["pod", "slow"]);
    // A pod deleted at once (never scheduled) is marked first, as upstream's pod strategy
    // deletes every pod gracefully: the answer shows the mark, grace period 0.
    s.kubectl_stdin(
        &["create", "-f", "-"],
        "apiVersion: v1\nkind: Pod\nmetadata: {name: unplaced}\nspec:\n  schedulerName: nobody\n  containers: [{name: c, image: busybox}]\n",
    );
    let (code, body) = curl(
        &s,
        "DELETE",
        "/api/v1/namespaces/default/pods/unplaced",
        "application/json",
        None,
    );
    assert_eq!(code, 200, "{body}");
    let gone = status(&body);
    assert!(gone["metadata"]["deletionTimestamp"].is_string(), "{gone}");
    assert_eq!(gone["metadata"]["deletionGracePeriodSeconds"], 0, "{gone}");
    let out = s.kubectl(&["get", "pod", "unplaced"]);
    assert!(!out.status.success(), "deleted");
}

/// A second delete of an object being deleted keeps its propagation, as upstream's
/// `deletionFinalizersForGarbageCollection`: with no policy it goes on in the foreground (never
/// both `foregroundDeletion` and `orphan`); a policy asked for replaces the one under way.
#[test]
fn deleting_again_keeps_or_replaces_the_propagation_never_both() {
    let s = Server::start();
    s.kubectl_stdin(
        &["apply", "-f", "-"],
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: fg}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      terminationGracePeriodSeconds: 60\n      containers: [{name: c, image: busybox, command: [sh, -c, \"trap '' TERM; sleep 600\"]}]\n",
    );
    s.kubectl_ok(&[
        "wait",
        "--for=jsonpath={.status.ready}=1",
        "job/fg",
        "--timeout=60s",
    ]);
    let path = "/apis/batch/v1/namespaces/default/jobs/fg";
    let delete = |body: &[u8]| {
        let (code, body) = curl(&s, "DELETE", path, "application/json", Some(body));
        assert_eq!(code, 200, "{body}");
        status(&body)["metadata"]["finalizers"].clone()
    };
    let foreground = serde_json::json!(["foregroundDeletion"]);
    assert_eq!(delete(br#"{"propagationPolicy":"Foreground"}"#), foreground);
    assert_eq!(delete(b"{}"), foreground, "no policy: the one under way");
    assert_eq!(
        delete(br#"{"propagationPolicy":"Orphan"}"#),
        serde_json::json!(["orphan"]),
        "a policy asked for replaces it"
    );
}

/// A create that names a resourceVersion is refused as upstream's storage refuses it (a 500
/// with no reason; kubectl says "Error from server"), and nothing is made; its dry run, which
/// upstream stores nothing for, passes.
#[test]
fn a_create_naming_a_resource_version_is_refused() {
    let s = Server::start();
    let doc = br#"{"metadata":{"name":"copied","resourceVersion":"12"}}"#;
    let (code, body) = curl(&s, "POST", CMS, "application/json", Some(doc));
    assert_eq!(code, 500, "{body}");
    let refused = status(&body);
    assert_eq!(
        refused["message"],
        "resourceVersion should not be set on objects to be created"
    );
    assert!(refused.get("reason").is_none(), "{refused}");
    let (code, _) = curl(
        &s,
        "GET",
        &format!("{CMS}/copied"),
        "application/json",
        None,
    );
    assert_eq!(code, 404, "nothing was made");
    let (code, _) = curl(
        &s,
        "POST",
        &format!("{CMS}?dryRun=All"),
        "application/json",
        Some(doc),
    );
    assert_eq!(code, 201);
    // A delete's Status names no empty group, as upstream's `omitempty`.
    s.kubectl_ok(&["create", "cm", "plain"]);
    let (code, body) = curl(
        &s,
        "DELETE",
        &format!("{CMS}/plain"),
        "application/json",
        None,
    );
    assert_eq!(code, 200);
    let gone = status(&body);
    assert_eq!(gone["kind"], "Status", "{gone}");
    assert_eq!(gone["details"]["name"], "plain");
    assert!(gone["details"].get("group").is_none(), "{gone}");
}

/// A label selector that does not parse is refused in the parser's words, said once.
#[test]
fn a_bad_label_selector_is_refused_in_upstream_words() {
    let s = Server::start();
    let (code, body) = curl(
        &s,
        "GET",
        &format!("{CMS}?labelSelector=a%20in%20("),
        "application/json",
        None,
    );
    assert_eq!(code, 400);
    assert_eq!(
        status(&body)["message"],
        "unable to parse requirement: found '', expected: ',', ')' or identifier"
    );
}

/// A JSON patch is held to upstream's limits: copies that would double the object past 3 MiB
/// are refused (422) instead of taking the server's memory, and more than 10,000 operations
/// are too large (413). The server goes on, the object as it was.
#[test]
fn json_patches_are_held_to_upstream_s_limits() {
    let s = Server::start();
    s.kubectl_ok(&["create", "cm", "doubled"]);
    let mut ops = vec![serde_json::json!(
        {"op": "add", "path": "/metadata/annotations", "value": {"a": "x".repeat(1000)}}
    )];
    ops.extend((0..30).map(|i| {
        serde_json::json!({"op": "copy", "from": "/metadata/annotations",
            "path": format!("/metadata/annotations/n{i}")})
    }));
    let body = serde_json::to_vec(&ops).unwrap();
    let path = format!("{CMS}/doubled");
    let (code, reply) = curl(
        &s,
        "PATCH",
        &path,
        "application/json-patch+json",
        Some(&body),
    );
    // Upstream's `NewGenericServerResponse(422, ...)`: a fixed message, the patch's own error
    // as the cause.
    assert_eq!(code, 422, "{reply}");
    let rejected = status(&reply);
    assert_eq!(
        rejected["message"], "the server rejected our request due to an error in our request",
        "{reply}"
    );
    assert!(
        rejected["details"]["causes"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Unable to complete the copy, the accumulated size increase of copy is "),
        "{reply}"
    );
    // kubectl shows why a patch does not apply.
    let out = s.kubectl(&[
        "patch",
        "cm",
        "doubled",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/data/missing","value":"x"}]"#,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("The request is invalid")
            && err.contains("/data/missing"),
        "{err}"
    );
    let many: Vec<serde_json::Value> =
        vec![serde_json::json!({"op": "test", "path": "/kind", "value": "ConfigMap"}); 10_001];
    let body = serde_json::to_vec(&many).unwrap();
    let (code, reply) = curl(
        &s,
        "PATCH",
        &path,
        "application/json-patch+json",
        Some(&body),
    );
    assert_eq!(code, 413, "{reply}");
    assert_eq!(
        status(&reply)["message"],
        "The allowed maximum operations in a JSON patch is 10000, got 10001"
    );
    assert_eq!(
        s.kubectl_ok(&[
            "get",
            "cm",
            "doubled",
            "-o",
            "jsonpath={.metadata.annotations}"
        ]),
        "",
        "the object as it was"
    );
}

/// A long label selector (tens of kilobytes of request line) is taken, as Go's servers take
/// up to 1 MiB of headers, instead of a bare 431.
#[test]
fn a_long_label_selector_is_taken() {
    let s = Server::start();
    let values: Vec<String> = (0..6000).map(|i| format!("v{i}")).collect();
    let selector = format!("k%20in%20({})", values.join(","));
    assert!(selector.len() > 30_000);
    let (code, body) = curl(
        &s,
        "GET",
        &format!("{CMS}?labelSelector={selector}"),
        "application/json",
        None,
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(status(&body)["kind"], "ConfigMapList");
}
