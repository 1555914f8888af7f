//! Service account tokens, so that a pod can call the API as its ServiceAccount, as in
//! Kubernetes: what `kubectl` and the client libraries' in-cluster configuration read from
//! `/var/run/secrets/kubernetes.io/serviceaccount`.
//!
//! Its parts, each upstream's:
//! - [`token`]: the JSON Web Tokens themselves, signed with the server's service account key
//!   (ES256), with upstream's claims (`sub` `system:serviceaccount:NS:NAME`, the bound pod
//!   under `kubernetes.io`);
//! - [`request`]: the TokenRequest API (`POST serviceaccounts/{name}/token`, what
//!   `kubectl create token` and the node agent call), which issues them;
//! - [`authenticate`]: a bearer token that is one of them is the account's identity, for as
//!   long as it has not expired and the account (and the pod it is bound to) still exist;
//! - [`issuer`]: the OpenID Connect discovery document and key set, for verifiers outside;
//! - [`admission`]: every new pod gets the projected `kube-api-access-*` volume at the path
//!   above in each container (the token, the cluster's CA as `kube-root-ca.crt` publishes
//!   it, the namespace), unless it or its account opts out.
//!
//! A server without a signing key (the in-process test server) serves none of this: it
//! mounts nothing and accepts no such token.

pub mod admission;
pub mod authenticate;
pub mod issuer;
pub mod request;
pub mod token;

pub use token::{Claims, TokenSigner};

/// The issuer (`iss`) of our tokens, and the audience the API server accepts: upstream's
/// default `--service-account-issuer` as kubeadm sets it.
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// Where a pod's containers find the token, `ca.crt` and `namespace`.
pub const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The ConfigMap every namespace has with the cluster's CA (upstream's root CA publisher).
pub const ROOT_CA_CONFIG_MAP: &str = "kube-root-ca.crt";

/// The user name of a service account.
pub fn user_name(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}
