//! Quantities as numbers: what the agent needs of `resource.Quantity` (limits in bytes and
//! millicores, downward-API values). Parsing rules are upstream's; the value is returned in
//! nano-units so both CPU and memory are exact.

/// Parses `<number><suffix>` (binary `Ki`…`Ei`, decimal `n u m k M G T P E`, or `e<exp>`) into
/// nano-units; `None` for anything else or on overflow.
pub fn nanos(s: &str) -> Option<i128> {
    runlet_api::validation::quantity::Quantity::parse(s).map(|q| q.as_nanos())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_scale_exactly() {
        assert_eq!(nanos("500m"), Some(500_000_000));
        assert_eq!(nanos("1.5"), Some(1_500_000_000));
        assert_eq!(nanos("64Mi"), Some((64i128 << 20) * 1_000_000_000));
        assert_eq!(nanos("1e3"), nanos("1k"));
        assert_eq!(nanos("x"), None);
        assert_eq!(nanos("1.2.3"), None);
    }
}
