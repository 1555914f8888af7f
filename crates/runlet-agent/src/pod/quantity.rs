//! Quantities as numbers: what the agent needs of `resource.Quantity` (limits in bytes and
//! millicores, downward-API values). Parsing rules are upstream's; the value is returned in
//! nano-units so both CPU and memory are exact.

/// Parses `<number><suffix>` (binary `Ki`…`Ei`, decimal `n u m k M G T P E`, or `e<exp>`) into
/// nano-units; `None` for anything else or on overflow.
pub fn nanos(s: &str) -> Option<i128> {
    let s = s.trim();
    let (neg, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let num_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    let (num, suffix) = rest.split_at(num_len);
    let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
    if num.is_empty() || num == "." || frac_part.contains('.') {
        return None;
    }
    let (mult, div): (i128, i128) = match suffix {
        "" => (1, 1),
        "n" => (1, 1_000_000_000),
        "u" => (1, 1_000_000),
        "m" => (1, 1_000),
        "k" => (1_000, 1),
        "M" => (1_000_000, 1),
        "G" => (1_000_000_000, 1),
        "T" => (1_000_000_000_000, 1),
        "P" => (1_000_000_000_000_000, 1),
        "E" => (1_000_000_000_000_000_000, 1),
        "Ki" => (1 << 10, 1),
        "Mi" => (1 << 20, 1),
        "Gi" => (1 << 30, 1),
        "Ti" => (1 << 40, 1),
        "Pi" => (1 << 50, 1),
        "Ei" => (1 << 60, 1),
        e if e.starts_with(['e', 'E']) => {
            let exp: i32 = e.get(1..)?.parse().ok()?;
            if !(-9..=18).contains(&exp) {
                return None;
            }
            if exp >= 0 {
                (10i128.pow(exp as u32), 1)
            } else {
                (1, 10i128.pow(exp.unsigned_abs()))
            }
        }
        _ => return None,
    };
    let frac_part = frac_part.get(..frac_part.len().min(18))?;
    let scale = 10i128.pow(frac_part.len() as u32);
    let int_v: i128 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().ok()?
    };
    let frac_v: i128 = if frac_part.is_empty() {
        0
    } else {
        frac_part.parse().ok()?
    };
    let whole = int_v.checked_mul(scale)?.checked_add(frac_v)?;
    let n = whole.checked_mul(1_000_000_000)?.checked_mul(mult)? / div / scale;
    Some(if neg { -n } else { n })
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
