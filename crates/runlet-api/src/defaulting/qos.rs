//! A Pod's QoS class, as upstream's `ComputePodQOS` (`pkg/apis/core/helper/qos`), and the
//! resource-quantity arithmetic it needs.
//!
//! The class is written into `status.qosClass` when a Pod is created and decides, on the node,
//! which pods are evicted first; it must agree with what a real cluster computes.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Parses a Kubernetes resource quantity (`500m`, `1Gi`, `2e3`, `0.5`) into nano-units, rounding
/// up below a nano-unit and saturating at the ends of `i128`. `None` when malformed.
pub fn parse_quantity_nanos(s: &str) -> Option<i128> {
    let s = s.trim();
    let (negative, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let number_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_end);
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if (int_part.is_empty() && frac_part.is_empty()) || frac_part.contains('.') {
        return None;
    }
    let (pow2, pow10): (u32, i32) = match suffix {
        "" => (0, 0),
        "Ki" => (10, 0),
        "Mi" => (20, 0),
        "Gi" => (30, 0),
        "Ti" => (40, 0),
        "Pi" => (50, 0),
        "Ei" => (60, 0),
        "n" => (0, -9),
        "u" => (0, -6),
        "m" => (0, -3),
        "k" => (0, 3),
        "M" => (0, 6),
        "G" => (0, 9),
        "T" => (0, 12),
        "P" => (0, 15),
        "E" => (0, 18),
        _ => {
            let exp = suffix
                .strip_prefix('e')
                .or_else(|| suffix.strip_prefix('E'))?;
            (0, exp.parse::<i32>().ok()?)
        }
    };
    let digits = format!("{int_part}{frac_part}");
    let mut mantissa: i128 = 0;
    for d in digits.bytes() {
        mantissa = mantissa
            .saturating_mul(10)
            .saturating_add(i128::from(d - b'0'));
    }
    mantissa = mantissa.saturating_mul(1i128 << pow2);
    let frac_len = i32::try_from(frac_part.len()).unwrap_or(i32::MAX);
    let scale = 9i32.saturating_sub(frac_len).saturating_add(pow10);
    let value = if scale >= 0 {
        let mut v = mantissa;
        for _ in 0..scale.min(60) {
            v = v.saturating_mul(10);
        }
        if scale > 60 && v != 0 { i128::MAX } else { v }
    } else {
        let mut divisor: i128 = 1;
        for _ in 0..(-scale).min(38) {
            divisor = divisor.saturating_mul(10);
        }
        let q = mantissa / divisor;
        if mantissa % divisor != 0 { q + 1 } else { q }
    };
    Some(if negative { -value } else { value })
}

/// `ComputePodQOS` for a pod `spec`: `Guaranteed` when every container (and init container) has
/// non-zero CPU and memory limits and the summed requests equal the summed limits, `BestEffort`
/// when nothing is requested or limited, `Burstable` otherwise.
pub fn pod_qos_class(spec: &Value) -> &'static str {
    let mut requests: BTreeMap<&str, i128> = BTreeMap::new();
    let mut limits: BTreeMap<&str, i128> = BTreeMap::new();
    let mut guaranteed = true;
    let containers = ["containers", "initContainers"]
        .into_iter()
        .filter_map(|k| spec.get(k).and_then(Value::as_array))
        .flatten();
    for c in containers {
        let resources = c.get("resources");
        let req = resources
            .and_then(|r| r.get("requests"))
            .and_then(Value::as_object);
        for (name, q) in supported_positive(req) {
            let e = requests.entry(name).or_insert(0);
            *e = e.saturating_add(q);
        }
        let lim = resources
            .and_then(|r| r.get("limits"))
            .and_then(Value::as_object);
        let found = supported_positive(lim);
        if !(found.iter().any(|(n, _)| *n == "cpu") && found.iter().any(|(n, _)| *n == "memory")) {
            guaranteed = false;
        }
        for (name, q) in found {
            let e = limits.entry(name).or_insert(0);
            *e = e.saturating_add(q);
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed
        && requests.iter().all(|(n, r)| limits.get(n) == Some(r))
        && requests.len() == limits.len()
    {
        return "Guaranteed";
    }
    "Burstable"
}

/// The CPU and memory entries of a resource list whose quantity is greater than zero.
fn supported_positive(list: Option<&Map<String, Value>>) -> Vec<(&str, i128)> {
    list.into_iter()
        .flatten()
        .filter(|(name, _)| name.as_str() == "cpu" || name.as_str() == "memory")
        .filter_map(|(name, q)| {
            let nanos = parse_quantity_nanos(q.as_str()?)?;
            (nanos > 0).then_some((name.as_str(), nanos))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_parse_to_nano_units() {
        assert_eq!(parse_quantity_nanos("1"), Some(1_000_000_000));
        assert_eq!(parse_quantity_nanos("500m"), Some(500_000_000));
        assert_eq!(parse_quantity_nanos("0.5"), Some(500_000_000));
        assert_eq!(parse_quantity_nanos("1Ki"), Some(1024 * 1_000_000_000));
        assert_eq!(
            parse_quantity_nanos("1Gi"),
            parse_quantity_nanos("1073741824")
        );
        assert_eq!(parse_quantity_nanos("1e3"), parse_quantity_nanos("1k"));
        assert_eq!(parse_quantity_nanos("1n"), Some(1));
        assert_eq!(parse_quantity_nanos("0.1n"), Some(1));
        assert_eq!(parse_quantity_nanos("-2"), Some(-2_000_000_000));
        assert_eq!(parse_quantity_nanos("abc"), None);
        assert_eq!(parse_quantity_nanos("1Qi"), None);
        assert_eq!(parse_quantity_nanos(""), None);
        assert!(parse_quantity_nanos("9e99").is_some_and(|v| v == i128::MAX));
    }

    #[test]
    fn qos_classes_match_upstream() {
        // pkg/apis/core/helper/qos/qos_test.go cases.
        let best = json!({"containers": [{"name": "a"}]});
        assert_eq!(pod_qos_class(&best), "BestEffort");
        let guaranteed = json!({"containers": [{"name": "a", "resources": {
            "limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1Gi"}}}]});
        assert_eq!(pod_qos_class(&guaranteed), "Guaranteed");
        let burstable =
            json!({"containers": [{"name": "a", "resources": {"requests": {"cpu": "100m"}}}]});
        assert_eq!(pod_qos_class(&burstable), "Burstable");
        let only_cpu_limit = json!({"containers": [{"name": "a", "resources": {
            "limits": {"cpu": "1"}, "requests": {"cpu": "1"}}}]});
        assert_eq!(pod_qos_class(&only_cpu_limit), "Burstable");
        let zero_requests =
            json!({"containers": [{"name": "a", "resources": {"requests": {"cpu": "0"}}}]});
        assert_eq!(pod_qos_class(&zero_requests), "BestEffort");
        let ignored = json!({"containers": [{"name": "a", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]});
        assert_eq!(pod_qos_class(&ignored), "BestEffort");
        let init_not_guaranteed = json!({
            "containers": [{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}}],
            "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "1"}}}]});
        assert_eq!(pod_qos_class(&init_not_guaranteed), "Burstable");
    }
}
