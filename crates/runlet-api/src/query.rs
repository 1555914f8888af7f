//! Query parameters read as upstream's `runtime.ParameterCodec` reads them into option structs.

/// A boolean parameter as apimachinery's `Convert_Slice_string_To_bool`: absent is false, and
/// so are `0` and `false` in any case; every other value, the empty one included, is true.
pub fn flag(value: Option<&str>) -> bool {
    value.is_some_and(|v| v != "0" && !v.eq_ignore_ascii_case("false"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_zero_and_false_are_false() {
        for v in ["true", "True", "1", "yes", "t", "f", ""] {
            assert!(flag(Some(v)), "{v:?}");
        }
        for v in [None, Some("0"), Some("false"), Some("FALSE")] {
            assert!(!flag(v), "{v:?}");
        }
    }
}
