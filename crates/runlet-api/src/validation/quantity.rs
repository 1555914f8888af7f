//! Just enough of `resource.Quantity` to compare requests with limits and spot negative or
//! fractional values: an exact parse of the serialized form into nano-units.
//!
//! The object model keeps quantities as strings (k8s-openapi's `Quantity`), so validation
//! parses them here. Values beyond ±1.7e29 base units are reported as unparseable.

use std::cmp::Ordering;

/// A parsed quantity in nano-units (10^-9 of the base unit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity(i128);

impl Quantity {
    /// Parses upstream's quantity syntax: `<sign><number><suffix>` where the suffix is a binary
    /// (`Ki`…`Ei`), decimal SI (`n u m "" k M G T P E`) or exponent (`e3`, `E-2`) suffix.
    pub fn parse(s: &str) -> Option<Quantity> {
        let s = s.trim();
        let (neg, rest) = match s.as_bytes().first()? {
            b'-' => (true, s.get(1..)?),
            b'+' => (false, s.get(1..)?),
            _ => (false, s),
        };
        let num_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let (num, suffix) = rest.split_at(num_len);
        if num.is_empty() || num.matches('.').count() > 1 || num == "." {
            return None;
        }
        let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
        // value = (int.frac) * mult / div, computed in nanos
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
                    (1, 10i128.pow((-exp) as u32))
                }
            }
            _ => return None,
        };
        let frac_part = frac_part.get(..frac_part.len().min(18))?;
        let frac_scale = 10i128.pow(frac_part.len() as u32);
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
        let whole = int_v.checked_mul(frac_scale)?.checked_add(frac_v)?; // value * frac_scale
        let nanos = whole.checked_mul(1_000_000_000)?.checked_mul(mult)? / div / frac_scale;
        Some(Quantity(if neg { -nanos } else { nanos }))
    }

    /// The value in nano-units (10^-9 of the base unit: bytes, cores).
    pub fn as_nanos(self) -> i128 {
        self.0
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Whether the value is a whole number of base units.
    pub fn is_integer(self) -> bool {
        self.0 % 1_000_000_000 == 0
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    pub fn cmp_to(self, other: Quantity) -> Ordering {
        self.0.cmp(&other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_compare_exactly() {
        let q = |s| Quantity::parse(s).expect(s);
        assert_eq!(q("500m"), q("0.5"));
        assert_eq!(q("1Ki"), q("1024"));
        assert_eq!(q("1e3"), q("1k"));
        assert!(q("1Gi") > q("1G"));
        assert!(q("-1").is_negative());
        assert!(!q("1500m").is_integer());
        assert_eq!(Quantity::parse("1x"), None);
        assert_eq!(Quantity::parse(""), None);
    }
}
