//! Pod volumes: names, exactly one source, and the local-path rules of key projections
//! (upstream's `ValidateVolumes` and `validateVolumeSource`, common sources only).

use super::super::format::{self, invalid_each};
use super::super::quantity::Quantity;
use super::super::{json_i64, json_str};
use super::{arr, obj};
use crate::field::{ErrorList, FieldError, Path};
use serde_json::Value;
use std::collections::BTreeMap;

const VOLUME_SOURCES: &[&str] = &[
    "emptyDir",
    "hostPath",
    "gitRepo",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "flocker",
    "persistentVolumeClaim",
    "rbd",
    "cinder",
    "cephfs",
    "quobyte",
    "downwardAPI",
    "fc",
    "flexVolume",
    "configMap",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "storageos",
    "projected",
    "scaleIO",
    "csi",
    "ephemeral",
    "image",
];

/// Volume name → its source key (`emptyDir`, `persistentVolumeClaim`...).
pub type VolumeMap = BTreeMap<String, String>;

/// `ValidateVolumes`: names are unique DNS labels, each volume has exactly one source.
pub fn validate_volumes(vols: &[Value], path: &Path) -> (VolumeMap, ErrorList) {
    let mut errs = ErrorList::new();
    let mut names = VolumeMap::new();
    for (i, v) in vols.iter().enumerate() {
        let p = path.index(i);
        let name = json_str(v, "name");
        let (source, mut el) = validate_volume_source(v, &p);
        if name.is_empty() {
            el.push(FieldError::required(&p.child("name"), ""));
        } else {
            el.extend(invalid_each(
                &p.child("name"),
                name,
                format::is_dns1123_label(name),
            ));
        }
        if names.contains_key(name) {
            el.push(FieldError::duplicate(&p.child("name"), name));
        }
        if el.is_empty() {
            names.insert(name.to_string(), source);
        } else {
            errs.extend(el);
        }
    }
    (names, errs)
}

fn file_mode_ok(v: &Value, key: &str) -> Option<i64> {
    json_i64(v, key).filter(|m| !(0..=0o777).contains(m))
}

/// `validateEphemeralVolumeSource`: a claim template whose metadata holds only labels and
/// annotations, and a valid claim spec.
fn validate_ephemeral(src: &Value, path: &Path) -> ErrorList {
    let p = path.child("volumeClaimTemplate");
    let Some(template) = obj(src, "volumeClaimTemplate") else {
        return vec![FieldError::required(&p, "")];
    };
    let mut errs = ErrorList::new();
    let meta = template.get("metadata").and_then(Value::as_object);
    for (field, value) in meta.into_iter().flatten() {
        match field.as_str() {
            "labels" => errs.extend(crate::validation::metadata::validate_labels(
                Some(value),
                &p.child("metadata").child("labels"),
            )),
            "annotations" => errs.extend(crate::validation::metadata::validate_annotations(
                Some(value),
                &p.child("metadata").child("annotations"),
            )),
            other => errs.push(FieldError::forbidden(
                &p.child("metadata").child(other),
                "cannot be set",
            )),
        }
    }
    let spec = template.get("spec").unwrap_or(&Value::Null);
    errs.extend(crate::validation::core::validate_pvc_spec(
        spec,
        &p.child("spec"),
    ));
    errs
}

const FILE_MODE_MSG: &str = "must be a number between 0 and 0777 (octal), both inclusive";

fn validate_volume_source(v: &Value, path: &Path) -> (String, ErrorList) {
    let mut errs = ErrorList::new();
    let mut first: Option<&str> = None;
    for key in VOLUME_SOURCES {
        let Some(src) = obj(v, key) else { continue };
        if first.is_some() {
            errs.push(FieldError::forbidden(
                &path.child(key),
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        first = Some(key);
        let p = path.child(key);
        match *key {
            "ephemeral" => errs.extend(validate_ephemeral(src, &p)),
            "hostPath" => {
                let hp = json_str(src, "path");
                if hp.is_empty() {
                    errs.push(FieldError::required(&p.child("path"), ""));
                } else {
                    errs.extend(validate_path_no_backsteps(hp, &p.child("path")));
                }
                errs.extend(validate_host_path_type(src, &p.child("type")));
            }
            "downwardAPI" => {
                if let Some(m) = file_mode_ok(src, "defaultMode") {
                    errs.push(FieldError::invalid(
                        &p.child("defaultMode"),
                        m,
                        FILE_MODE_MSG,
                    ));
                }
                // Upstream reports an item's errors under the volume's path, not the item's.
                for file in arr(src, "items") {
                    errs.extend(validate_downward_api_file(file, &p));
                }
            }
            "projected" => {
                if let Some(m) = file_mode_ok(src, "defaultMode") {
                    errs.push(FieldError::invalid(
                        &p.child("defaultMode"),
                        m,
                        FILE_MODE_MSG,
                    ));
                }
                errs.extend(validate_projection_sources(src, &p));
            }
            "secret" | "configMap" => {
                let name_key = if *key == "secret" {
                    "secretName"
                } else {
                    "name"
                };
                if json_str(src, name_key).is_empty() {
                    errs.push(FieldError::required(&p.child(name_key), ""));
                }
                if let Some(m) = file_mode_ok(src, "defaultMode") {
                    errs.push(FieldError::invalid(
                        &p.child("defaultMode"),
                        m,
                        FILE_MODE_MSG,
                    ));
                }
                for (i, item) in arr(src, "items").iter().enumerate() {
                    errs.extend(validate_key_to_path(item, &p.child("items").index(i)));
                }
            }
            "persistentVolumeClaim" if json_str(src, "claimName").is_empty() => {
                errs.push(FieldError::required(&p.child("claimName"), ""));
            }
            "emptyDir" => {
                if let Some(q) = src
                    .get("sizeLimit")
                    .and_then(Value::as_str)
                    .and_then(Quantity::parse)
                    && q.is_negative()
                {
                    errs.push(FieldError::forbidden(
                        &p.child("sizeLimit"),
                        "SizeLimit field must be a valid resource quantity",
                    ));
                }
            }
            _ => {}
        }
    }
    if first.is_none() {
        errs.push(FieldError::required(path, "must specify a volume type"));
    }
    (first.unwrap_or("").to_string(), errs)
}

/// The `hostPath.type` values upstream knows, sorted as its `sets.List` gives them.
pub(crate) const HOST_PATH_TYPES: &[&str] = &[
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
];

pub(crate) fn validate_host_path_type(src: &Value, path: &Path) -> ErrorList {
    match src.get("type").and_then(Value::as_str) {
        Some(t) if !HOST_PATH_TYPES.contains(&t) => {
            vec![FieldError::not_supported(path, t, HOST_PATH_TYPES)]
        }
        _ => Vec::new(),
    }
}

/// Upstream's `validateDownwardAPIVolumeFile`: a path, and one of a field of the pod's
/// metadata or a container's resource.
fn validate_downward_api_file(file: &Value, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let p = json_str(file, "path");
    if p.is_empty() {
        errs.push(FieldError::required(&path.child("path"), ""));
    }
    errs.extend(validate_local_non_reserved_path(p, &path.child("path")));
    match (obj(file, "fieldRef"), obj(file, "resourceFieldRef")) {
        (Some(fr), resource) => {
            errs.extend(super::validate_object_field_selector(
                fr,
                &path.child("fieldRef"),
                super::VOLUME_FIELD_PATHS,
            ));
            if resource.is_some() {
                errs.push(FieldError::invalid(
                    path,
                    "resource",
                    "fieldRef and resourceFieldRef can not be specified simultaneously",
                ));
            }
        }
        (None, Some(rr)) => errs.extend(super::validate_resource_field_selector(
            rr,
            &path.child("resourceFieldRef"),
            true,
        )),
        (None, None) => errs.push(FieldError::required(
            path,
            "one of fieldRef and resourceFieldRef is required",
        )),
    }
    if let Some(m) = file_mode_ok(file, "mode") {
        errs.push(FieldError::invalid(&path.child("mode"), m, FILE_MODE_MSG));
    }
    errs
}

/// Upstream's `validateProjectionSources`: one kind per source, and no two files at one path.
fn validate_projection_sources(projected: &Value, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut paths: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut claim = |file_path: &str, errs: &mut ErrorList, value: &str| {
        if !file_path.is_empty() && !paths.insert(file_path.to_string()) {
            errs.push(FieldError::invalid(
                path,
                value,
                "conflicting duplicate paths",
            ));
        }
    };
    for (i, source) in arr(projected, "sources").iter().enumerate() {
        let src_path = path.child("sources").index(i);
        let mut kinds = 0;
        for key in ["secret", "configMap"] {
            let Some(src) = obj(source, key) else {
                continue;
            };
            kinds += 1;
            let p = src_path.child(key);
            let name = json_str(src, "name");
            if name.is_empty() {
                errs.push(FieldError::required(&p.child("name"), ""));
            }
            for (j, item) in arr(src, "items").iter().enumerate() {
                errs.extend(validate_key_to_path(item, &p.child("items").index(j)));
                claim(json_str(item, "path"), &mut errs, name);
            }
        }
        if let Some(src) = obj(source, "downwardAPI") {
            kinds += 1;
            let p = src_path.child("downwardAPI");
            for file in arr(src, "items") {
                errs.extend(validate_downward_api_file(file, &p));
                let file_path = json_str(file, "path");
                claim(file_path, &mut errs, file_path);
            }
        }
        if let Some(src) = obj(source, "serviceAccountToken") {
            kinds += 1;
            let p = src_path.child("serviceAccountToken");
            if let Some(secs) = json_i64(src, "expirationSeconds") {
                if secs < 10 * 60 {
                    errs.push(FieldError::invalid(
                        &p.child("expirationSeconds"),
                        secs,
                        "may not specify a duration less than 10 minutes",
                    ));
                }
                if secs > 1 << 32 {
                    errs.push(FieldError::invalid(
                        &p.child("expirationSeconds"),
                        secs,
                        "may not specify a duration larger than 2^32 seconds",
                    ));
                }
            }
            let token_path = json_str(src, "path");
            if token_path.is_empty() {
                errs.push(FieldError::required(&path.child("path"), ""));
            } else {
                errs.extend(validate_local_non_reserved_path(
                    token_path,
                    &path.child("path"),
                ));
            }
        }
        if obj(source, "clusterTrustBundle").is_some() {
            kinds += 1;
        }
        if kinds > 1 {
            errs.push(FieldError::forbidden(
                &src_path,
                "may not specify more than 1 volume type",
            ));
        }
    }
    errs
}

fn validate_key_to_path(kp: &Value, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if json_str(kp, "key").is_empty() {
        errs.push(FieldError::required(&path.child("key"), ""));
    }
    let p = json_str(kp, "path");
    if p.is_empty() {
        errs.push(FieldError::required(&path.child("path"), ""));
    }
    errs.extend(validate_local_non_reserved_path(p, &path.child("path")));
    if let Some(m) = file_mode_ok(kp, "mode") {
        errs.push(FieldError::invalid(&path.child("mode"), m, FILE_MODE_MSG));
    }
    errs
}

pub(crate) fn validate_path_no_backsteps(p: &str, path: &Path) -> ErrorList {
    if p.split('/').any(|part| part == "..") {
        vec![FieldError::invalid(path, p, "must not contain '..'")]
    } else {
        Vec::new()
    }
}

pub(super) fn validate_local_descending_path(p: &str, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if p.starts_with('/') {
        errs.push(FieldError::invalid(path, p, "must be a relative path"));
    }
    errs.extend(validate_path_no_backsteps(p, path));
    errs
}

fn validate_local_non_reserved_path(p: &str, path: &Path) -> ErrorList {
    let mut errs = validate_local_descending_path(p, path);
    if p.starts_with("..") && !p.starts_with("../") {
        errs.push(FieldError::invalid(path, p, "must not start with '..'"));
    }
    errs
}
