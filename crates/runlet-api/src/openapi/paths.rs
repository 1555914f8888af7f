//! `paths` of a group-version document: the REST operations of every served resource.
//!
//! Shaped like upstream's generated documents (operation ids such as
//! `patchBatchV1NamespacedJob`, `x-kubernetes-action`, `x-kubernetes-group-version-kind`),
//! because kubectl reads them: `kubectl apply`/`create` look for a PATCH operation carrying the
//! kind's GVK extension and a `fieldValidation` query parameter before they trust the server
//! to validate fields (cli-runtime `query_param_verifier_v3.go`).

use super::schemas::{gvk, schema_ref};
use crate::resources::ResourceInfo;
use serde_json::{Map, Value, json};

const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1";

/// `BatchV1`, `CoreV1`, `EventsV1`: the group-version part of upstream operation ids.
fn op_group(info: &ResourceInfo) -> String {
    let group = if info.group.is_empty() {
        "core"
    } else {
        info.group.split('.').next().unwrap_or(info.group)
    };
    let mut chars = group.chars();
    let group = chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default();
    let mut vchars = info.version.chars();
    let version = vchars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + vchars.as_str())
        .unwrap_or_default();
    format!("{group}{version}")
}

/// `batch_v1`, `core_v1`: upstream's operation tag.
fn tag(info: &ResourceInfo) -> String {
    let group = if info.group.is_empty() {
        "core"
    } else {
        info.group.split('.').next().unwrap_or(info.group)
    };
    format!("{group}_{}", info.version)
}

fn query(name: &str, description: &str, ty: &str) -> Value {
    json!({ "name": name, "in": "query", "description": description, "schema": { "type": ty, "uniqueItems": true } })
}

fn path_param(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "description": description, "required": true, "schema": { "type": "string", "uniqueItems": true } })
}

fn dry_run() -> Value {
    query(
        "dryRun",
        "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed",
        "string",
    )
}

fn field_manager() -> Value {
    query(
        "fieldManager",
        "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.",
        "string",
    )
}

fn field_validation() -> Value {
    query(
        "fieldValidation",
        "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.",
        "string",
    )
}

fn list_params(watchable: bool) -> Vec<Value> {
    let mut params = vec![
        query(
            "allowWatchBookmarks",
            "allowWatchBookmarks requests watch events with type \"BOOKMARK\".",
            "boolean",
        ),
        query(
            "continue",
            "The continue option should be set when retrieving more results from the server.",
            "string",
        ),
        query(
            "fieldSelector",
            "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
            "string",
        ),
        query(
            "labelSelector",
            "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
            "string",
        ),
        query(
            "limit",
            "limit is a maximum number of responses to return for a list call.",
            "integer",
        ),
        query(
            "resourceVersion",
            "resourceVersion sets a constraint on what resource versions a request may be served from.",
            "string",
        ),
        query(
            "resourceVersionMatch",
            "resourceVersionMatch determines how resourceVersion is applied to list calls.",
            "string",
        ),
        query(
            "sendInitialEvents",
            "`sendInitialEvents=true` may be set together with `watch=true`.",
            "boolean",
        ),
        query(
            "timeoutSeconds",
            "Timeout for the list/watch call.",
            "integer",
        ),
    ];
    if watchable {
        params.push(query("watch", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.", "boolean"));
    }
    params
}

fn delete_params() -> Vec<Value> {
    vec![
        dry_run(),
        query(
            "gracePeriodSeconds",
            "The duration in seconds before the object should be deleted. Value must be non-negative integer.",
            "integer",
        ),
        query(
            "ignoreStoreReadErrorWithClusterBreakingPotential",
            "if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow fails with a corrupt object error.",
            "boolean",
        ),
        query(
            "orphanDependents",
            "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7.",
            "boolean",
        ),
        query(
            "propagationPolicy",
            "Whether and how garbage collection will be performed. Acceptable values are: 'Orphan', 'Background', 'Foreground'.",
            "string",
        ),
    ]
}

fn content(schema: Value, types: &[&str]) -> Value {
    let map: Map<String, Value> = types
        .iter()
        .map(|t| ((*t).to_string(), json!({ "schema": schema.clone() })))
        .collect();
    Value::Object(map)
}

const RESPONSE_TYPES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];

fn responses(codes: &[(&str, &str)], schema: &Value) -> Value {
    let mut map = Map::new();
    for (code, description) in codes {
        map.insert((*code).to_string(), json!({ "description": description, "content": content(schema.clone(), RESPONSE_TYPES) }));
    }
    map.insert("401".to_string(), json!({ "description": "Unauthorized" }));
    Value::Object(map)
}

struct Op<'a> {
    info: &'a ResourceInfo,
    action: &'a str,
    verb: &'a str,
    suffix: &'a str,
    description: String,
}

impl Op<'_> {
    fn id(&self) -> String {
        let scope = if self.info.namespaced && self.suffix != "ForAllNamespaces" {
            "Namespaced"
        } else {
            ""
        };
        let collection = if self.action == "deletecollection" {
            "Collection"
        } else {
            ""
        };
        let kind = self.info.kind;
        let group = op_group(self.info);
        let suffix = self.suffix;
        format!("{}{group}{collection}{scope}{kind}{suffix}", self.verb)
    }

    fn build(&self, parameters: Vec<Value>, request: Option<Value>, responses: Value) -> Value {
        let mut op = json!({
            "tags": [tag(self.info)],
            "description": self.description,
            "operationId": self.id(),
            "parameters": parameters,
            "responses": responses,
            "x-kubernetes-action": self.action,
            "x-kubernetes-group-version-kind": gvk(self.info.group, self.info.version, self.info.kind),
        });
        if let (Some(obj), Some(body)) = (op.as_object_mut(), request) {
            obj.insert("requestBody".to_string(), body);
        }
        op
    }
}

fn body(schema: Value, types: &[&str]) -> Value {
    json!({ "content": content(schema, types), "required": true })
}

/// Adds the paths of one resource.
pub(super) fn add_resource(paths: &mut Map<String, Value>, info: &ResourceInfo, kind_schema: &str) {
    let root = if info.group.is_empty() {
        format!("/api/{}", info.version)
    } else {
        format!("/apis/{}/{}", info.group, info.version)
    };
    let plural = info.plural;
    let kind = info.kind;
    let collection = if info.namespaced {
        format!("{root}/namespaces/{{namespace}}/{plural}")
    } else {
        format!("{root}/{plural}")
    };
    let object = schema_ref(kind_schema);
    let list = schema_ref(&format!("{kind_schema}List"));
    let status = schema_ref(&format!("{META}.Status"));
    let pretty = query(
        "pretty",
        "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).",
        "string",
    );
    let op =
        |action: &'static str, verb: &'static str, suffix: &'static str, description: String| Op {
            info,
            action,
            verb,
            suffix,
            description,
        };
    let mut scope_params = Vec::new();
    if info.namespaced {
        scope_params.push(path_param(
            "namespace",
            "object name and auth scope, such as for teams and projects",
        ));
    }

    // The collection: list, create, delete collection.
    let mut collection_params = scope_params.clone();
    collection_params.push(pretty.clone());
    let mut delete_collection = delete_params();
    delete_collection.extend(list_params(false));
    paths.insert(
        collection.clone(),
        json!({
            "get": op("list", "list", "", format!("list or watch objects of kind {kind}"))
                .build(list_params(true), None, responses(&[("200", "OK")], &list)),
            "post": op("post", "create", "", format!("create a {kind}")).build(
                vec![dry_run(), field_manager(), field_validation()],
                Some(body(object.clone(), &["*/*"])),
                responses(&[("200", "OK"), ("201", "Created"), ("202", "Accepted")], &object),
            ),
            "delete": op("deletecollection", "delete", "", format!("delete collection of {kind}")).build(
                delete_collection,
                Some(body(schema_ref(&format!("{META}.DeleteOptions")), &["*/*"])),
                responses(&[("200", "OK")], &status),
            ),
            "parameters": collection_params,
        }),
    );

    // One object: read, replace, patch, delete.
    let mut object_params = vec![path_param("name", &format!("name of the {kind}"))];
    object_params.extend(scope_params.iter().cloned());
    object_params.push(pretty.clone());
    let patch_types = [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
    ];
    let patch_params = || {
        vec![
            dry_run(),
            field_manager(),
            field_validation(),
            query(
                "force",
                "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.",
                "boolean",
            ),
        ]
    };
    let item_ops = |suffix: &'static str, what: &str| {
        json!({
            "get": op("get", "read", suffix, format!("read {what} of the specified {kind}"))
                .build(Vec::new(), None, responses(&[("200", "OK")], &object)),
            "put": op("put", "replace", suffix, format!("replace {what} of the specified {kind}")).build(
                vec![dry_run(), field_manager(), field_validation()],
                Some(body(object.clone(), &["*/*"])),
                responses(&[("200", "OK"), ("201", "Created")], &object),
            ),
            "patch": op("patch", "patch", suffix, format!("partially update {what} of the specified {kind}")).build(
                patch_params(),
                Some(body(schema_ref(&format!("{META}.Patch")), &patch_types)),
                responses(&[("200", "OK"), ("201", "Created")], &object),
            ),
            "parameters": object_params.clone(),
        })
    };
    let mut item = item_ops("", "the");
    if let Some(obj) = item.as_object_mut() {
        obj.insert(
            "delete".to_string(),
            op("delete", "delete", "", format!("delete a {kind}")).build(
                delete_params(),
                Some(body(schema_ref(&format!("{META}.DeleteOptions")), &["*/*"])),
                responses(&[("200", "OK"), ("202", "Accepted")], &object),
            ),
        );
    }
    paths.insert(format!("{collection}/{{name}}"), item);
    if info.has_status() {
        paths.insert(
            format!("{collection}/{{name}}/status"),
            item_ops("Status", "status"),
        );
    }

    // Namespaced kinds are also listed across namespaces.
    if info.namespaced {
        paths.insert(
            format!("{root}/{plural}"),
            json!({
                "get": op("list", "list", "ForAllNamespaces", format!("list or watch objects of kind {kind}"))
                    .build(list_params(true), None, responses(&[("200", "OK")], &list)),
                "parameters": [pretty],
            }),
        );
    }
}
