//! An Event's `type`. Upstream's recorders write one of two values (`v1.EventTypeNormal` and
//! `v1.EventTypeWarning`); every component that records events names them with this type, so a
//! call reads `Warning, "BackOff", ...` rather than `true, "BackOff", ...`.

/// `Normal` or `Warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// Expected behaviour.
    Normal,
    /// Something a user should look at.
    Warning,
}

impl EventType {
    /// The value of an Event's `type` field.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::EventType;

    #[test]
    fn the_type_field_is_upstreams_word() {
        assert_eq!(EventType::Normal.as_str(), "Normal");
        assert_eq!(EventType::Warning.as_str(), "Warning");
    }
}
