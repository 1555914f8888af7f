//! Pod and pod-template validation tests; expected strings are upstream's.

use super::*;
use crate::validation::msgs;
use serde_json::json;

fn container() -> Value {
    json!({"name": "c", "image": "busybox", "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"})
}

fn spec_with(containers: Value) -> Value {
    json!({"containers": containers, "restartPolicy": "Never", "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30})
}

fn p() -> Path {
    Path::new("spec").child("template").child("spec")
}

#[test]
fn defaulted_spec_is_valid() {
    assert!(validate_pod_spec(&spec_with(json!([container()])), &p()).is_empty());
}

#[test]
fn containers_are_required() {
    assert_eq!(
        msgs(&validate_pod_spec(&spec_with(json!([])), &p())),
        vec!["spec.template.spec.containers: Required value"]
    );
}

#[test]
fn missing_image_is_required() {
    let mut c = container();
    c.as_object_mut().map(|m| m.remove("image"));
    assert_eq!(
        msgs(&validate_pod_spec(&spec_with(json!([c])), &p())),
        vec!["spec.template.spec.containers[0].image: Required value"]
    );
}

#[test]
fn duplicate_container_names_across_init_and_regular() {
    let mut spec = spec_with(json!([container(), container()]));
    spec["initContainers"] = json!([container()]);
    assert_eq!(
        msgs(&validate_pod_spec(&spec, &p())),
        vec![
            "spec.template.spec.containers[1].name: Duplicate value: \"c\"",
            "spec.template.spec.initContainers[0].name: Duplicate value: \"c\"",
        ]
    );
}

#[test]
fn container_name_must_be_dns_label() {
    let mut c = container();
    c["name"] = json!("My_C");
    let errs = validate_pod_spec(&spec_with(json!([c])), &p());
    assert_eq!(errs.len(), 1);
    assert!(errs[0].to_string().starts_with(
        "spec.template.spec.containers[0].name: Invalid value: \"My_C\": a lowercase RFC 1123 label"
    ));
}

#[test]
fn unknown_restart_policy_is_not_supported() {
    let mut spec = spec_with(json!([container()]));
    spec["restartPolicy"] = json!("Sometimes");
    assert_eq!(
        msgs(&validate_pod_spec(&spec, &p())),
        vec![
            "spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""
        ]
    );
}

#[test]
fn sidecar_restart_policy_must_be_always() {
    let mut spec = spec_with(json!([container()]));
    let mut init = container();
    init["name"] = json!("init");
    init["restartPolicy"] = json!("OnFailure");
    spec["initContainers"] = json!([init]);
    assert_eq!(
        msgs(&validate_pod_spec(&spec, &p())),
        vec![
            "spec.template.spec.initContainers[0].restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\""
        ]
    );
}

#[test]
fn env_value_from_needs_exactly_one_source() {
    let mut c = container();
    c["env"] = json!([{"name": "A", "valueFrom": {}}]);
    assert_eq!(
        msgs(&validate_pod_spec(&spec_with(json!([c])), &p())),
        vec![
            "spec.template.spec.containers[0].env[0].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"
        ]
    );
}

#[test]
fn env_name_with_equals_is_invalid() {
    let mut c = container();
    c["env"] = json!([{"name": "A=B", "value": "x"}]);
    assert_eq!(
        msgs(&validate_pod_spec(&spec_with(json!([c])), &p())),
        vec![
            "spec.template.spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='"
        ]
    );
}

#[test]
fn volume_mount_must_name_a_volume() {
    let mut c = container();
    c["volumeMounts"] = json!([{"name": "data", "mountPath": "/data"}]);
    assert_eq!(
        msgs(&validate_pod_spec(&spec_with(json!([c])), &p())),
        vec!["spec.template.spec.containers[0].volumeMounts[0].name: Not found: \"data\""]
    );
}

#[test]
fn volume_needs_exactly_one_source_and_unique_name() {
    let mut spec = spec_with(json!([container()]));
    spec["volumes"] = json!([
        {"name": "a", "emptyDir": {}, "hostPath": {"path": "/x"}},
        {"name": "b"},
        {"name": "c", "emptyDir": {}},
        {"name": "c", "emptyDir": {}}
    ]);
    assert_eq!(
        msgs(&validate_pod_spec(&spec, &p())),
        vec![
            "spec.template.spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type",
            "spec.template.spec.volumes[1]: Required value: must specify a volume type",
            "spec.template.spec.volumes[3].name: Duplicate value: \"c\"",
        ]
    );
}

#[test]
fn host_path_downward_api_and_projected_volumes_are_checked_as_upstream() {
    let mut spec = spec_with(json!([container()]));
    spec["volumes"] = json!([
        {"name": "a", "hostPath": {"path": "/x", "type": "Bogus"}},
        {"name": "b", "downwardAPI": {"items": [
            {"path": "node", "fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}},
            {"path": "cpu", "resourceFieldRef": {"resource": "limits.cpu"}},
            {"path": "none"}
        ]}},
        {"name": "c", "projected": {"sources": [
            {"configMap": {"name": "one", "items": [{"key": "k", "path": "same"}]}},
            {"secret": {"name": "two", "items": [{"key": "k", "path": "same"}]}},
            {"downwardAPI": {"items": [
                {"path": "name", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}
            ]}, "configMap": {"name": "three"}}
        ]}}
    ]);
    assert_eq!(
        msgs(&validate_pod_spec(&spec, &p())),
        vec![
            "spec.template.spec.volumes[0].hostPath.type: Unsupported value: \"Bogus\": supported values: \"\", \"BlockDevice\", \"CharDevice\", \"Directory\", \"DirectoryOrCreate\", \"File\", \"FileOrCreate\", \"Socket\"",
            "spec.template.spec.volumes[1].downwardAPI.fieldRef.fieldPath: Unsupported value: \"spec.nodeName\": supported values: \"metadata.annotations\", \"metadata.labels\", \"metadata.name\", \"metadata.namespace\", \"metadata.uid\"",
            "spec.template.spec.volumes[1].downwardAPI.resourceFieldRef.containerName: Required value",
            "spec.template.spec.volumes[1].downwardAPI: Required value: one of fieldRef and resourceFieldRef is required",
            "spec.template.spec.volumes[2].projected: Invalid value: \"two\": conflicting duplicate paths",
            "spec.template.spec.volumes[2].projected.sources[2]: Forbidden: may not specify more than 1 volume type",
        ]
    );
}

#[test]
fn escalation_refused_while_granted_and_groups_out_of_range_are_invalid() {
    let mut c = container();
    c["securityContext"] = json!({"allowPrivilegeEscalation": false, "privileged": true,
        "capabilities": {"add": ["CAP_SYS_ADMIN"]}});
    let mut spec = spec_with(json!([c]));
    spec["securityContext"] = json!({"supplementalGroups": [1, -5]});
    let got = msgs(&validate_pod_spec(&spec, &p()));
    assert_eq!(got.len(), 3, "{got:?}");
    let escalation = "cannot set `allowPrivilegeEscalation` to false and";
    assert!(
        got[0].starts_with("spec.template.spec.containers[0].securityContext: Invalid value: ")
            && got[0].ends_with(&format!("{escalation} `privileged` to true")),
        "{got:?}"
    );
    assert!(
        got[1].ends_with(&format!("{escalation} `capabilities.Add` CAP_SYS_ADMIN")),
        "{got:?}"
    );
    assert_eq!(
        got[2],
        "spec.template.spec.securityContext.supplementalGroups[1]: Invalid value: -5: must be between 0 and 2147483647, inclusive"
    );
}

#[test]
fn request_above_limit_is_invalid() {
    let mut c = container();
    c["resources"] = json!({"limits": {"cpu": "500m"}, "requests": {"cpu": "1"}});
    assert_eq!(
        msgs(&validate_pod_spec(&spec_with(json!([c])), &p())),
        vec![
            "spec.template.spec.containers[0].resources.requests: Invalid value: \"1\": must be less than or equal to cpu limit of 500m"
        ]
    );
}

#[test]
fn negative_quantity_is_invalid() {
    let mut c = container();
    c["resources"] = json!({"requests": {"memory": "-1Mi"}});
    assert_eq!(
        msgs(&validate_pod_spec(&spec_with(json!([c])), &p())),
        vec![
            "spec.template.spec.containers[0].resources.requests[memory]: Invalid value: \"-1Mi\": must be greater than or equal to 0"
        ]
    );
}

#[test]
fn port_needs_container_port_and_protocol() {
    let mut c = container();
    c["ports"] = json!([{"containerPort": 70000, "protocol": "TCP"}, {"protocol": ""}]);
    assert_eq!(
        msgs(&validate_pod_spec(&spec_with(json!([c])), &p())),
        vec![
            "spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
            "spec.template.spec.containers[0].ports[1].containerPort: Required value",
            "spec.template.spec.containers[0].ports[1].protocol: Required value",
        ]
    );
}

#[test]
fn missing_grace_period_and_dns_policy_are_required() {
    let spec = json!({"containers": [container()], "restartPolicy": "Never"});
    assert_eq!(
        msgs(&validate_pod_spec(&spec, &p())),
        vec![
            "spec.template.spec.terminationGracePeriodSeconds: Required value",
            "spec.template.spec.dnsPolicy: Required value"
        ]
    );
}

#[test]
fn active_deadline_must_be_positive() {
    let mut spec = spec_with(json!([container()]));
    spec["activeDeadlineSeconds"] = json!(0);
    assert_eq!(
        msgs(&validate_pod_spec(&spec, &p())),
        vec![
            "spec.template.spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"
        ]
    );
}

fn pod(spec: Value) -> Value {
    json!({"metadata": {"name": "p", "namespace": "default", "uid": "u", "resourceVersion": "1"}, "spec": spec})
}

#[test]
fn pod_update_may_change_image_but_not_restart_policy() {
    let old = pod(spec_with(json!([container()])));
    let mut new = old.clone();
    new["spec"]["containers"][0]["image"] = json!("alpine");
    assert!(validate_pod_update(&new, &old).is_empty());
    new["spec"]["restartPolicy"] = json!("OnFailure");
    let errs = msgs(&validate_pod_update(&new, &old));
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with(
        "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`"
    ));
    assert!(errs[0].ends_with("spec.restartPolicy: changed"));
}

#[test]
fn pod_status_update_may_not_change_node_name() {
    let old = pod(spec_with(json!([container()])));
    let mut new = old.clone();
    new["spec"]["nodeName"] = json!("n1");
    assert_eq!(
        msgs(&validate_pod_status_update(&new, &old)),
        vec!["status.nodeName: Forbidden: may not be changed directly"]
    );
}

/// The spec's errors, for a spec made of a valid one and `extra`'s fields.
fn errors_with(extra: Value) -> Vec<String> {
    let mut spec = spec_with(json!([container()]));
    for (k, v) in extra.as_object().expect("an object of fields") {
        spec[k] = v.clone();
    }
    msgs(&validate_pod_spec(&spec, &p()))
}

#[test]
fn node_affinity_requirements_are_checked_as_upstream() {
    let na =
        "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution";
    let required = |exprs: Value| {
        errors_with(
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": [{"matchExpressions": exprs}]}}}}),
        )
    };
    assert_eq!(
        required(json!([{"key": "kubernetes.io/hostname", "operator": "in", "values": ["n"]}])),
        vec![format!(
            "{na}.nodeSelectorTerms[0].matchExpressions[0].operator: Invalid value: \"in\": not a valid selector operator"
        )]
    );
    assert_eq!(
        required(
            json!([{"key": "k", "operator": "In"}, {"key": "k", "operator": "Gt", "values": ["1", "2"]}])
        ),
        vec![
            format!(
                "{na}.nodeSelectorTerms[0].matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
            ),
            format!(
                "{na}.nodeSelectorTerms[0].matchExpressions[1].values: Required value: must be specified single value when `operator` is 'Lt' or 'Gt'"
            ),
        ]
    );
    assert_eq!(
        errors_with(
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": []}}}})
        ),
        vec![format!(
            "{na}.nodeSelectorTerms: Required value: must have at least one node selector term"
        )]
    );
    assert_eq!(
        errors_with(
            json!({"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution":
            [{"weight": 0, "preference": {"matchFields": [{"key": "metadata.labels", "operator": "In", "values": ["a"]}]}}]}}})
        ),
        vec![
            "spec.template.spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 0: must be in the range 1-100",
            "spec.template.spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].preference.matchFields[0].key: Invalid value: \"metadata.labels\": not a valid field selector key",
        ]
    );
}

#[test]
fn pod_anti_affinity_needs_a_topology_key() {
    let errs = errors_with(
        json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
        [{"labelSelector": {"matchLabels": {"app": "a"}}}]}}}),
    );
    let t = "spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey";
    assert_eq!(errs[0], format!("{t}: Required value: can not be empty"));
    assert!(errs[1..].iter().all(|e| e.starts_with(t)), "{errs:?}");
}

#[test]
fn topology_spread_constraints_are_checked_as_upstream() {
    let c = "spec.template.spec.topologySpreadConstraints";
    assert_eq!(
        errors_with(json!({"topologySpreadConstraints": [
            {"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "Bogus"},
            {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", "minDomains": 2},
            {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", "nodeTaintsPolicy": "Sometimes"}]})),
        vec![
            format!("{c}[0].maxSkew: Invalid value: 0: must be greater than zero"),
            format!(
                "{c}[0].whenUnsatisfiable: Unsupported value: \"Bogus\": supported values: \"DoNotSchedule\", \"ScheduleAnyway\""
            ),
            format!(
                "{c}[1].{{topologyKey, whenUnsatisfiable}}: Duplicate value: \"{{zone, DoNotSchedule}}\""
            ),
            format!(
                "{c}[2].nodeTaintsPolicy: Unsupported value: \"Sometimes\": supported values: \"Honor\", \"Ignore\""
            ),
        ]
    );
}

#[test]
fn security_contexts_host_users_and_addresses_are_checked_as_upstream() {
    let mut c = container();
    c["securityContext"] =
        json!({"procMount": "Unmasked", "seccompProfile": {"type": "Localhost"}});
    let mut spec = spec_with(json!([c]));
    spec["shareProcessNamespace"] = json!(true);
    spec["hostPID"] = json!(true);
    spec["securityContext"] =
        json!({"fsGroupChangePolicy": "Sometimes", "appArmorProfile": {"type": "Localhost"}});
    spec["hostAliases"] = json!([{"ip": "notanip", "hostnames": ["ok.example"]}]);
    spec["dnsConfig"] = json!({"nameservers": ["1.1.1.1", "x"], "searches": ["ok.example.", ".", "_srv.example", "Bad!"]});
    let s = "spec.template.spec";
    assert_eq!(
        msgs(&validate_pod_spec(&spec, &p())),
        vec![
            format!(
                "{s}.securityContext.shareProcessNamespace: Invalid value: true: ShareProcessNamespace and HostPID cannot both be enabled"
            ),
            format!(
                "{s}.securityContext.fsGroupChangePolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnRootMismatch\""
            ),
            format!(
                "{s}.securityContext.appArmorProfile.localhostProfile: Required value: must be set when AppArmor type is Localhost"
            ),
            format!(
                "{s}.containers[0].securityContext.procMount: Invalid value: \"Unmasked\": `hostUsers` must be false to use `Unmasked`"
            ),
            format!(
                "{s}.containers[0].securityContext.seccompProfile.localhostProfile: Required value: must be set when seccomp type is Localhost"
            ),
            format!(
                "{s}.dnsConfig.nameservers[1]: Invalid value: \"x\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
            ),
            format!(
                "{s}.dnsConfig.searches[3]: Invalid value: \"Bad!\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '_', '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?(\\._?[a-z0-9]([-_a-z0-9]*[a-z0-9])?)*')"
            ),
            format!(
                "{s}.hostAliases[0].ip: Invalid value: \"notanip\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
            ),
        ]
    );
    let mut user_ns = spec_with(json!([container()]));
    user_ns["hostUsers"] = json!(false);
    user_ns["hostNetwork"] = json!(true);
    assert_eq!(
        msgs(&validate_pod_spec(&user_ns, &p())),
        vec![format!(
            "{s}.hostNetwork: Forbidden: when `pod.Spec.HostUsers` is false"
        )]
    );
}

#[test]
fn an_ephemeral_volume_needs_a_claim_template() {
    let v = "spec.template.spec.volumes[0].ephemeral.volumeClaimTemplate";
    assert_eq!(
        errors_with(json!({"volumes": [{"name": "e", "ephemeral": {}}]})),
        vec![format!("{v}: Required value")]
    );
    assert_eq!(
        errors_with(
            json!({"volumes": [{"name": "e", "ephemeral": {"volumeClaimTemplate":
            {"metadata": {"name": "x"}, "spec": {}}}}]})
        ),
        vec![
            format!("{v}.metadata.name: Forbidden: cannot be set"),
            format!("{v}.spec.accessModes: Required value: at least 1 access mode is required"),
            format!("{v}.spec.resources[storage]: Required value"),
        ]
    );
}

#[test]
fn mounts_divisors_and_resize_policies_are_checked_as_upstream() {
    let mut c = container();
    c["volumeMounts"] = json!([{"name": "v", "mountPath": "/v", "mountPropagation": "Bidirectional",
        "recursiveReadOnly": "Enabled"}]);
    c["env"] = json!([{"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "2"}}},
        {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1024Ki"}}}]);
    c["resizePolicy"] = json!([{"resourceName": "cpu", "restartPolicy": "RestartContainer"}]);
    let mut spec = spec_with(json!([c]));
    spec["volumes"] = json!([{"name": "v", "emptyDir": {}}]);
    let s = "spec.template.spec.containers[0]";
    assert_eq!(
        msgs(&validate_pod_spec(&spec, &p())),
        vec![
            format!(
                "{s}.env[0].valueFrom.resourceFieldRef.divisor: Invalid value: \"limits.cpu\": only divisor's values 1m and 1 are supported with the cpu resource"
            ),
            format!(
                "{s}.volumeMounts.mountPropagation: Forbidden: Bidirectional mount propagation is available only to privileged containers"
            ),
            format!(
                "{s}.volumeMounts.recursiveReadOnly: Forbidden: may only be specified when readOnly is true"
            ),
            format!(
                "{s}.volumeMounts.recursiveReadOnly: Forbidden: may only be specified when mountPropagation is None or not specified"
            ),
            format!(
                "{s}.resizePolicy: Invalid value: \"RestartContainer\": must be 'NotRequired' when `restartPolicy` is 'Never'"
            ),
        ]
    );
}
