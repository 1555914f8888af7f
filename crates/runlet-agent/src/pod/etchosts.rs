//! The pod's `/etc/hosts`, as the kubelet writes it (`managedHostsFileContent`): localhost, the
//! pod's own host name (fully qualified under its `subdomain`) at its IP, and its
//! `hostAliases`. A container has the pod's host name in its UTS namespace; without this file
//! the name would not resolve (`hostname -f`, Java's `InetAddress.getLocalHost`). A
//! `hostNetwork` pod gets the node's file with its `hostAliases` added
//! (`nodeHostsFileContent`); a container that mounts something of its own at `/etc/hosts`
//! keeps that.

use k8s_openapi::api::core::v1::{Container, Pod};

/// Where the file is bound in a container.
pub const PATH: &str = "/etc/hosts";
/// The cluster domain of fully qualified pod names (the kubelet's `clusterDomain` default).
const CLUSTER_DOMAIN: &str = "cluster.local";

/// Whether `container` gets the pod's `/etc/hosts` (one that mounts its own does not).
pub fn mounted_for(container: &Container) -> bool {
    !mounts_own(container, PATH)
}

/// Whether `container` mounts a volume of its own at `path` (a file the agent would bind
/// there otherwise).
pub fn mounts_own(container: &Container, path: &str) -> bool {
    container
        .volume_mounts
        .iter()
        .flatten()
        .any(|m| m.mount_path.trim_end_matches('/') == path)
}

/// Whether the pod shares the node's network (and with it the node's host names).
pub fn host_network(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .is_some_and(|s| s.host_network == Some(true))
}

/// The file of a `hostNetwork` pod: the node's, marked, with the pod's `hostAliases` after it.
pub fn host_network_content(pod: &Pod, node_hosts: &str) -> String {
    let mut out = String::from("# Kubernetes-managed hosts file (host network).\n");
    out.push_str(node_hosts);
    push_aliases(&mut out, pod);
    out
}

/// The file's content for `pod`, whose host name is `hostname`, at `pod_ip`.
pub fn content(pod: &Pod, hostname: &str, pod_ip: &str) -> String {
    let mut out = String::from(
        "# Kubernetes-managed hosts file.\n\
         127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\n\
         fe00::0\tip6-mcastprefix\n\
         fe00::1\tip6-allnodes\n\
         fe00::2\tip6-allrouters\n",
    );
    match domain(pod) {
        Some(domain) => out.push_str(&format!("{pod_ip}\t{hostname}.{domain}\t{hostname}\n")),
        None => out.push_str(&format!("{pod_ip}\t{hostname}\n")),
    }
    push_aliases(&mut out, pod);
    out
}

/// The pod's domain, under its `subdomain` (upstream's `GeneratePodHostNameAndDomain`).
fn domain(pod: &Pod) -> Option<String> {
    let subdomain = pod
        .spec
        .as_ref()
        .and_then(|s| s.subdomain.as_deref())
        .filter(|s| !s.is_empty())?;
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    Some(format!("{subdomain}.{namespace}.svc.{CLUSTER_DOMAIN}"))
}

/// The host name a container's kernel gets: the fully qualified one when the pod asks for it
/// with `setHostnameAsFQDN` and has a domain, as upstream's `GetNodenameForKernel`, whose
/// error says why a name longer than the kernel's 64 characters cannot be.
pub fn kernel_hostname(pod: &Pod, hostname: &str) -> Result<String, String> {
    const FQDN_MAX_LEN: usize = 64;
    let as_fqdn = pod
        .spec
        .as_ref()
        .is_some_and(|s| s.set_hostname_as_fqdn == Some(true));
    match domain(pod).filter(|_| as_fqdn) {
        Some(domain) => {
            let fqdn = format!("{hostname}.{domain}");
            if fqdn.len() > FQDN_MAX_LEN {
                return Err(format!(
                    "failed to construct FQDN from pod hostname and cluster domain, FQDN {fqdn} is too long ({FQDN_MAX_LEN} characters is the max, {} characters requested)",
                    fqdn.len()
                ));
            }
            Ok(fqdn)
        }
        None => Ok(hostname.to_string()),
    }
}

/// Upstream's `hostsEntriesFromHostAliases`.
fn push_aliases(out: &mut String, pod: &Pod) {
    let aliases = pod
        .spec
        .as_ref()
        .and_then(|s| s.host_aliases.as_deref())
        .unwrap_or_default();
    if !aliases.is_empty() {
        out.push_str("\n# Entries added by HostAliases.\n");
        for alias in aliases {
            out.push_str(&format!(
                "{}\t{}\n",
                alias.ip,
                alias.hostnames.as_deref().unwrap_or_default().join("\t")
            ));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_hostname_as_fqdn_gives_the_kernel_the_full_name_when_it_fits() {
        let pod = |spec: serde_json::Value| -> Pod {
            serde_json::from_value(
                serde_json::json!({"metadata": {"name": "p", "namespace": "ns"},
                "spec": spec}),
            )
            .unwrap()
        };
        let fqdn = pod(
            serde_json::json!({"containers": [], "subdomain": "sd", "setHostnameAsFQDN": true}),
        );
        assert_eq!(
            kernel_hostname(&fqdn, "h1").unwrap(),
            "h1.sd.ns.svc.cluster.local"
        );
        let no_domain = pod(serde_json::json!({"containers": [], "setHostnameAsFQDN": true}));
        assert_eq!(kernel_hostname(&no_domain, "h1").unwrap(), "h1");
        let not_asked = pod(serde_json::json!({"containers": [], "subdomain": "sd"}));
        assert_eq!(kernel_hostname(&not_asked, "h1").unwrap(), "h1");
        let err = kernel_hostname(&fqdn, &"h".repeat(50)).unwrap_err();
        assert!(
            err.contains("is too long (64 characters is the max, 74 characters requested)"),
            "{err}"
        );
    }

    #[test]
    fn the_file_is_the_kubelet_s() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "w-0", "namespace": "jobs"},
            "spec": {"subdomain": "workers", "containers": [],
                "hostAliases": [{"ip": "10.0.0.9", "hostnames": ["db", "db.local"]}]}
        }))
        .unwrap();
        assert_eq!(
            content(&pod, "w-0", "10.1.2.3"),
            "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n\
             ::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n\
             fe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n\
             10.1.2.3\tw-0.workers.jobs.svc.cluster.local\tw-0\n\
             \n# Entries added by HostAliases.\n10.0.0.9\tdb\tdb.local\n"
        );
        let plain: Pod = serde_json::from_value(json!({"metadata": {"name": "p"},
            "spec": {"containers": []}}))
        .unwrap();
        assert!(
            content(&plain, "p", "10.1.2.3").ends_with("fe00::2\tip6-allrouters\n10.1.2.3\tp\n")
        );
    }

    #[test]
    fn host_network_pods_get_the_node_s_file_and_own_mounts_keep_theirs() {
        let pod = |spec: serde_json::Value| -> Pod {
            serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
        };
        let c: Container = serde_json::from_value(json!({"name": "c"})).unwrap();
        let own: Container = serde_json::from_value(
            json!({"name": "c", "volumeMounts": [{"name": "h", "mountPath": "/etc/hosts"}]}),
        )
        .unwrap();
        assert!(mounted_for(&c));
        let on_host = pod(json!({"containers": [], "hostNetwork": true,
            "hostAliases": [{"ip": "10.9.9.9", "hostnames": ["a.b", "c.d"]}]}));

        assert_eq!(
            host_network_content(&on_host, "127.0.0.1\tlocalhost\n"),
            "# Kubernetes-managed hosts file (host network).\n127.0.0.1\tlocalhost\n\
             \n# Entries added by HostAliases.\n10.9.9.9\ta.b\tc.d\n"
        );
        assert!(!mounted_for(&own));
    }
}
