//! The pod's `/etc/resolv.conf` when its DNS settings ask for one of their own (`dnsPolicy:
//! None`, or a `dnsConfig`), as the kubelet's `GetPodDNS` computes them and containerd writes
//! them: the node's nameservers, searches and options as the base (none for `None`), the
//! pod's `dnsConfig` added without duplicates, its options overriding the base's of the same
//! name, and at most three nameservers and 32 searches, as `formDNSConfigFitsLimits` keeps.
//! A pod without either keeps the node's file, which is what the kubelet would give it here:
//! runlet has no cluster DNS, so `ClusterFirst` falls back to `Default` as upstream's does
//! without `--cluster-dns`.

use k8s_openapi::api::core::v1::{Container, Pod};

/// Where the file is bound in a container.
pub const PATH: &str = "/etc/resolv.conf";
/// Upstream's `MaxDNSNameservers` and `MaxDNSSearchPaths`.
const MAX_NAMESERVERS: usize = 3;
const MAX_SEARCHES: usize = 32;

/// Whether `pod` gets a file of its own.
pub fn wanted(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .is_some_and(|s| s.dns_policy.as_deref() == Some("None") || s.dns_config.is_some())
}

/// Whether `container` gets the pod's file (one that mounts its own does not).
pub fn mounted_for(container: &Container) -> bool {
    !super::etchosts::mounts_own(container, PATH)
}

/// The DNS settings of a `resolv.conf`.
#[derive(Debug, Default, PartialEq)]
struct Dns {
    nameservers: Vec<String>,
    searches: Vec<String>,
    /// `name` or `name:value`, in order.
    options: Vec<String>,
}

/// The file's content for `pod`, on a node whose own file reads `node_resolv_conf`.
pub fn content(pod: &Pod, node_resolv_conf: &str) -> String {
    let spec = pod.spec.as_ref();
    let mut dns = if spec.and_then(|s| s.dns_policy.as_deref()) == Some("None") {
        Dns::default()
    } else {
        parse(node_resolv_conf)
    };
    if let Some(config) = spec.and_then(|s| s.dns_config.as_ref()) {
        for server in config.nameservers.iter().flatten() {
            push_new(&mut dns.nameservers, server);
        }
        for search in config.searches.iter().flatten() {
            push_new(&mut dns.searches, search);
        }
        for option in config.options.iter().flatten() {
            let name = option.name.as_deref().unwrap_or_default();
            dns.options
                .retain(|o| o.split_once(':').map_or(o.as_str(), |(n, _)| n) != name);
            dns.options.push(match option.value.as_deref() {
                Some(value) if !value.is_empty() => format!("{name}:{value}"),
                _ => name.to_string(),
            });
        }
    }
    dns.nameservers.truncate(MAX_NAMESERVERS);
    dns.searches.truncate(MAX_SEARCHES);
    render(&dns)
}

fn push_new(list: &mut Vec<String>, value: &str) {
    if !list.iter().any(|v| v == value) {
        list.push(value.to_string());
    }
}

/// The settings of a `resolv.conf` (the kubelet's `parseResolvConf`): the last `search` line
/// wins, `domain` is ignored, comments are skipped.
fn parse(text: &str) -> Dns {
    let mut dns = Dns::default();
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or_default();
        let mut fields = line.split_whitespace();
        match fields.next() {
            Some("nameserver") => {
                if let Some(server) = fields.next() {
                    dns.nameservers.push(server.to_string());
                }
            }
            Some("search") => {
                dns.searches = fields
                    .filter(|s| *s != ".")
                    .map(|s| s.trim_end_matches('.').to_string())
                    .collect();
            }
            Some("options") => dns.options.extend(fields.map(str::to_string)),
            _ => {}
        }
    }
    dns
}

/// The file as containerd writes it (`parseDNSOptions`).
fn render(dns: &Dns) -> String {
    let mut out = String::new();
    if !dns.searches.is_empty() {
        out.push_str(&format!("search {}\n", dns.searches.join(" ")));
    }
    for server in &dns.nameservers {
        out.push_str(&format!("nameserver {server}\n"));
    }
    if !dns.options.is_empty() {
        out.push_str(&format!("options {}\n", dns.options.join(" ")));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
    }

    const NODE: &str =
        "# generated\nnameserver 10.0.0.53\nsearch example.com.\noptions edns0 ndots:1\n";

    #[test]
    fn only_pods_with_dns_settings_of_their_own_get_a_file() {
        assert!(!wanted(&pod(json!({"containers": []}))));
        assert!(!wanted(&pod(
            json!({"containers": [], "dnsPolicy": "ClusterFirst"})
        )));
        assert!(wanted(&pod(json!({"containers": [], "dnsPolicy": "None",
            "dnsConfig": {"nameservers": ["1.1.1.1"]}}))));
        assert!(wanted(&pod(
            json!({"containers": [], "dnsConfig": {"searches": ["s"]}})
        )));
    }

    #[test]
    fn none_takes_the_pod_s_settings_alone() {
        let p = pod(json!({"containers": [], "dnsPolicy": "None", "dnsConfig": {
            "nameservers": ["1.1.1.1"], "searches": ["my.search"],
            "options": [{"name": "ndots", "value": "2"}]}}));
        assert_eq!(
            content(&p, NODE),
            "search my.search\nnameserver 1.1.1.1\noptions ndots:2\n"
        );
    }

    #[test]
    fn a_dns_config_is_added_to_the_node_s_settings() {
        let p = pod(json!({"containers": [], "dnsConfig": {
            "nameservers": ["10.0.0.53", "1.1.1.1", "8.8.8.8", "9.9.9.9"],
            "searches": ["example.com", "more.example"],
            "options": [{"name": "ndots", "value": "5"}, {"name": "single-request"}]}}));
        assert_eq!(
            content(&p, NODE),
            "search example.com more.example\nnameserver 10.0.0.53\nnameserver 1.1.1.1\nnameserver 8.8.8.8\noptions edns0 ndots:5 single-request\n"
        );
    }
}
