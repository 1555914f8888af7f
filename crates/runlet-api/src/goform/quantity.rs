//! A quantity as upstream's `resource.Quantity` stores it: parsed, rounded up to the nano, and
//! written back in canonical form (`0.5` → `500m`, `1024Mi` → `1Gi`, `1.5Gi` → `1536Mi`), except
//! that a string already in canonical form is kept as written, as `ParseQuantity` caches it
//! (so `+1` and `1e3` stay). Follows apimachinery's `quantity.go` (`ParseQuantity`,
//! `CanonicalizeBytes`) and `amount.go` (`AsCanonicalBytes`, `AsCanonicalBase1024Bytes`).

/// How a quantity was written, and is written back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// `Ki`, `Mi`...
    BinarySi,
    /// `m`, `k`, `M`... or none.
    DecimalSi,
    /// `e3`, `E-2`.
    DecimalExponent,
}

/// The digits of the fast path: what fits in an `int64` with room (`maxInt64Factors`).
const MAX_INT64_FACTORS: i32 = 18;

/// The canonical form of quantity `text`, or `None` when it is not a quantity this code can
/// write (malformed, which validation reports, or beyond 38 significant digits): the caller
/// keeps it as it is.
pub fn canonical(text: &str) -> Option<String> {
    let text = text.trim();
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (num, rest) = rest.split_at(int_len);
    let (denom, suffix) = match rest.strip_prefix('.') {
        Some(after) => after.split_at(after.bytes().take_while(u8::is_ascii_digit).count()),
        None => ("", rest),
    };
    if num.is_empty() && denom.is_empty() {
        return None;
    }
    let (base, exponent, format) = interpret(suffix)?;
    let digits = format!("{num}{denom}");
    let fraction_digits = i32::try_from(denom.len()).ok()?;

    // upstream's fast path, where a canonical string is kept as written
    let precision = match format {
        Format::BinarySi if denom.is_empty() && exponent >= 0 => {
            15 - i32::try_from(num.len()).ok()? - exponent * 3 / 10 - 1
        }
        Format::BinarySi => -1,
        _ => MAX_INT64_FACTORS - i32::try_from(digits.len()).ok()?,
    };
    let scale = match format {
        Format::BinarySi => 0,
        _ => exponent,
    } - fraction_digits;
    if precision >= 0 && scale >= -9 {
        let value: i64 = digits.parse().ok()?;
        let mantissa = match format {
            Format::BinarySi => 1i64.checked_shl(u32::try_from(exponent).ok()?)?,
            _ => 1,
        };
        if value.checked_mul(mantissa).is_some() {
            let cached = match format {
                Format::BinarySi => exponent % 10 == 0 && value & 0x07 != 0,
                _ => scale % 3 == 0 && !digits.ends_with("000") && !digits.starts_with('0'),
            };
            if cached {
                return Some(text.to_string());
            }
        }
    }

    // The exact value: unscaled × 10^scale10.
    let mut unscaled: i128 = digits.parse().ok()?;
    let mut scale10 = -fraction_digits;
    match base {
        Base::Two => {
            unscaled = unscaled.checked_mul(1i128.checked_shl(u32::try_from(exponent).ok()?)?)?
        }
        Base::Ten => scale10 += exponent,
    }
    // Rounded up (away from zero) to the nano, as `ParseQuantity` rounds.
    if scale10 < -9 {
        let divisor = 10i128.checked_pow(u32::try_from(-9 - scale10).ok()?)?;
        unscaled = unscaled / divisor + i128::from(unscaled % divisor != 0);
        scale10 = -9;
    }
    if negative {
        unscaled = -unscaled;
    }
    let mut format = format;
    if format == Format::BinarySi && unscaled != 0 && is_below_one(unscaled, scale10) {
        format = Format::DecimalSi;
    }
    Some(write(unscaled, scale10, format))
}

#[derive(Clone, Copy)]
enum Base {
    Two,
    Ten,
}

/// The base, exponent and format a suffix stands for (upstream's `suffixHandler.interpret`).
fn interpret(suffix: &str) -> Option<(Base, i32, Format)> {
    let decimal = |e| Some((Base::Ten, e, Format::DecimalSi));
    let binary = |e| Some((Base::Two, e, Format::BinarySi));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        _ => {
            let exponent = suffix.strip_prefix(['e', 'E'])?;
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some((Base::Ten, exponent.parse().ok()?, Format::DecimalExponent))
        }
    }
}

fn is_below_one(unscaled: i128, scale10: i32) -> bool {
    match u32::try_from(-scale10) {
        Ok(places) => 10i128
            .checked_pow(places)
            .is_none_or(|one| unscaled.abs() < one),
        Err(_) => false,
    }
}

/// `CanonicalizeBytes`: zero is `0`; a binary quantity that is whole and at least 1024 in
/// magnitude keeps its binary suffix; the rest are written as decimals.
fn write(unscaled: i128, scale10: i32, format: Format) -> String {
    if unscaled == 0 {
        return "0".into();
    }
    let format = match format {
        Format::BinarySi => {
            let whole = (scale10 >= 0).then(|| {
                10i128
                    .checked_pow(scale10.unsigned_abs())
                    .and_then(|f| unscaled.checked_mul(f))
            });
            match whole.flatten().or_else(|| exact_whole(unscaled, scale10)) {
                Some(v) if v.abs() >= 1024 => return binary(v),
                _ => Format::DecimalSi,
            }
        }
        other => other,
    };
    // All factors of ten into the exponent, then the exponent down to a multiple of three.
    let (mut mantissa, mut exponent) = (unscaled, scale10);
    while mantissa % 10 == 0 {
        mantissa /= 10;
        exponent += 1;
    }
    while exponent % 3 != 0 {
        mantissa *= 10;
        exponent -= 1;
    }
    let suffix = match format {
        Format::DecimalExponent if exponent == 0 => String::new(),
        Format::DecimalExponent => format!("e{exponent}"),
        _ => match exponent {
            -9 => "n".into(),
            -6 => "u".into(),
            -3 => "m".into(),
            0 => String::new(),
            3 => "k".into(),
            6 => "M".into(),
            9 => "G".into(),
            12 => "T".into(),
            15 => "P".into(),
            18 => "E".into(),
            other => format!("e{other}"),
        },
    };
    format!("{mantissa}{suffix}")
}

/// The value as a whole number, when it is one (a negative scale with zeros to spare).
fn exact_whole(unscaled: i128, scale10: i32) -> Option<i128> {
    let divisor = 10i128.checked_pow(u32::try_from(-scale10).ok()?)?;
    (unscaled % divisor == 0).then_some(unscaled / divisor)
}

/// `AsCanonicalBase1024Bytes`: factors of 1024 into the suffix.
fn binary(mut value: i128) -> String {
    const SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
    let mut power = 0;
    while value % 1024 == 0 && power + 1 < SUFFIXES.len() {
        value /= 1024;
        power += 1;
    }
    format!("{value}{}", SUFFIXES[power])
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn quantities_are_written_as_upstream_stores_them() {
        for (written, stored) in [
            // canonical already: kept as written, as `ParseQuantity` caches the string
            ("1", "1"),
            ("500m", "500m"),
            ("1Gi", "1Gi"),
            ("100M", "100M"),
            ("123Mi", "123Mi"),
            ("1e3", "1e3"),
            ("+1", "+1"),
            ("-1", "-1"),
            ("128974848", "128974848"),
            // not canonical: written again
            ("0.5", "500m"),
            ("1.5", "1500m"),
            ("1.0", "1"),
            ("1000", "1k"),
            ("2000m", "2"),
            ("1024Mi", "1Gi"),
            ("1000Mi", "1000Mi"),
            ("512Ki", "512Ki"),
            ("1.5Gi", "1536Mi"),
            ("0.5Ki", "512"),
            ("1023", "1023"),
            ("0", "0"),
            ("0Mi", "0"),
            ("0m", "0"),
            ("007", "7"),
            (".5", "500m"),
            ("1.5e3", "1500"),
            ("0.1m", "100u"),
            ("0.0000000001", "1n"),
            ("1.0000000001", "1000000001n"),
            ("-0.5", "-500m"),
            (" 2 ", "2"),
        ] {
            assert_eq!(canonical(written).as_deref(), Some(stored), "{written}");
        }
    }

    #[test]
    fn what_is_not_a_quantity_is_left_alone() {
        for bad in ["", "x", ".", "1x", "1e", "1.2.3", "--1", "1Ki5"] {
            assert_eq!(canonical(bad), None, "{bad}");
        }
    }
}
