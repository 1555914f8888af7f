//! Upstream's `ServiceAccount` admission (`plugin/pkg/admission/serviceaccount`) for new
//! pods: the pod's account must exist (the `default` one is waited for a moment, as the
//! controller that makes it may not have come yet); the pod gets the account's image pull
//! secrets when it names none; and unless the pod or its account sets
//! `automountServiceAccountToken: false`, a projected `kube-api-access-XXXXX` volume (the
//! token, `ca.crt`, `namespace`) is mounted read-only at [`MOUNT_PATH`] in every init and
//! regular container that has nothing mounted there.

use super::{MOUNT_PATH, ROOT_CA_CONFIG_MAP};
use crate::error::{ApiError, ApiResult};
use crate::registry;
use crate::state::AppState;
use runlet_api::resources::{self, ResourceInfo};
use runlet_api::status::Status;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The prefix of the token volume's name.
const VOLUME_PREFIX: &str = "kube-api-access-";
/// The token lifetime the volume asks for (upstream's, an hour and seven seconds, so that
/// such tokens can be told apart).
const TOKEN_EXPIRATION_SECS: i64 = 3607;
/// Lookups of the `default` account before the pod is refused, and the pause between them.
const DEFAULT_ACCOUNT_ATTEMPTS: usize = 10;
const DEFAULT_ACCOUNT_RETRY: Duration = Duration::from_millis(150);

/// Admits the new pod `obj` (defaulted and named; `generate_name` is the prefix of a
/// generated name, which upstream's admission errors name instead).
pub async fn admit_pod(
    state: &AppState,
    info: &ResourceInfo,
    obj: &mut Value,
    generate_name: Option<&str>,
) -> ApiResult<()> {
    if (info.group, info.kind) != ("", "Pod") || state.token_signer().is_none() {
        return Ok(());
    }
    if obj["metadata"]["annotations"]["kubernetes.io/config.mirror"].is_string() {
        return Ok(());
    }
    let ns = obj["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default")
        .to_string();
    let account_name = obj["spec"]["serviceAccountName"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or("default")
        .to_string();
    let Some(account) = account(state, &ns, &account_name).await? else {
        let shown_name = generate_name
            .or_else(|| obj["metadata"]["name"].as_str())
            .unwrap_or_default();
        return Err(ApiError::new(Status::forbidden(
            info,
            shown_name,
            &format!(
                "error looking up service account {ns}/{account_name}: serviceaccount {account_name:?} not found"
            ),
        )));
    };
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    let no_pull_secrets = spec
        .get("imagePullSecrets")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if no_pull_secrets
        && let Some(secrets) = account["imagePullSecrets"]
            .as_array()
            .filter(|s| !s.is_empty())
    {
        spec.insert("imagePullSecrets".into(), Value::Array(secrets.clone()));
    }
    let automount = spec
        .get("automountServiceAccountToken")
        .and_then(Value::as_bool)
        .or_else(|| account["automountServiceAccountToken"].as_bool())
        .unwrap_or(true);
    if automount {
        mount_token(spec);
    }
    Ok(())
}

/// The account, looked up again for a while when it is `default` and not there yet.
async fn account(state: &AppState, ns: &str, name: &str) -> ApiResult<Option<Arc<Value>>> {
    let accounts = resources::find("", "v1", "serviceaccounts")
        .ok_or_else(|| ApiError::new(Status::internal("no serviceaccounts")))?;
    let attempts = if name == "default" {
        DEFAULT_ACCOUNT_ATTEMPTS
    } else {
        1
    };
    for attempt in 0..attempts {
        if attempt > 0 {
            tokio::time::sleep(DEFAULT_ACCOUNT_RETRY).await;
        }
        match registry::get(state, accounts, Some(ns), name).await {
            Ok(account) => return Ok(Some(account)),
            Err(e) if e.0.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Mounts the token volume (the pod's own `kube-api-access-*` one, if it has one) in every
/// init and regular container without a mount at [`MOUNT_PATH`], adding the volume if one
/// of them needed it.
fn mount_token(spec: &mut serde_json::Map<String, Value>) {
    let existing = spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v["name"].as_str())
        .find(|n| n.starts_with(VOLUME_PREFIX))
        .map(str::to_string);
    let volume_name = existing
        .clone()
        .unwrap_or_else(|| format!("{VOLUME_PREFIX}{}", registry::random_suffix()));
    let mut needed = false;
    for list in ["initContainers", "containers"] {
        let containers = spec.get_mut(list).and_then(Value::as_array_mut);
        for container in containers.into_iter().flatten() {
            let Some(container) = container.as_object_mut() else {
                continue;
            };
            let mounts = container.entry("volumeMounts").or_insert_with(|| json!([]));
            let Some(mounts) = mounts.as_array_mut() else {
                continue;
            };
            if mounts.iter().any(|m| m["mountPath"] == MOUNT_PATH) {
                continue;
            }
            mounts.push(json!({"name": volume_name, "readOnly": true, "mountPath": MOUNT_PATH}));
            needed = true;
        }
    }
    if needed && existing.is_none() {
        let volumes = spec.entry("volumes").or_insert_with(|| json!([]));
        if let Some(volumes) = volumes.as_array_mut() {
            volumes.push(token_volume(&volume_name));
        }
    }
}

/// Upstream's `TokenVolumeSource` volume, with the defaults the API server would give it.
fn token_volume(name: &str) -> Value {
    json!({"name": name, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECS, "path": "token"}},
        {"configMap": {"name": ROOT_CA_CONFIG_MAP, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
            "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ]}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_container_without_a_mount_there_gets_one_volume() {
        let mut spec = json!({
            "initContainers": [{"name": "i"}],
            "containers": [
                {"name": "a", "volumeMounts": [{"name": "mine", "mountPath": MOUNT_PATH}]},
                {"name": "b"},
            ],
        });
        let spec = spec.as_object_mut().expect("object");
        mount_token(spec);
        let volumes = spec["volumes"].as_array().expect("volumes");
        assert_eq!(volumes.len(), 1);
        let name = volumes[0]["name"].as_str().expect("name");
        assert!(name.starts_with(VOLUME_PREFIX) && name.len() == VOLUME_PREFIX.len() + 5);
        assert_eq!(
            spec["initContainers"][0]["volumeMounts"],
            json!([{"name": name, "readOnly": true, "mountPath": MOUNT_PATH}])
        );
        assert_eq!(spec["containers"][0]["volumeMounts"][0]["name"], "mine");
        assert_eq!(
            spec["containers"][0]["volumeMounts"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        assert_eq!(spec["containers"][1]["volumeMounts"][0]["name"], name);
    }

    #[test]
    fn a_pod_s_own_token_volume_is_used_and_nothing_added_when_all_have_mounts() {
        let mut spec = json!({
            "volumes": [{"name": "kube-api-access-abcde", "emptyDir": {}}],
            "containers": [{"name": "a"}],
        });
        let spec = spec.as_object_mut().expect("object");
        mount_token(spec);
        assert_eq!(spec["volumes"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            spec["containers"][0]["volumeMounts"][0]["name"],
            "kube-api-access-abcde"
        );
        let mut spec = json!({"containers": [
            {"name": "a", "volumeMounts": [{"name": "x", "mountPath": MOUNT_PATH}]}]});
        let spec = spec.as_object_mut().expect("object");
        mount_token(spec);
        assert!(spec.get("volumes").is_none());
    }
}
