//! [`AdminLimits`]: how many admin connections are served at once and how long each one may take.

/// The bounds of the admin listener. [`AdminLimits::default`] is what `switchboard serve` uses; tests and
/// embedders may pass their own to [`super::start_with_limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminLimits {
    /// Connections served at the same time, each on its own short-lived thread. One more is answered 503
    /// and closed at once, never queued: a probe is refused quickly rather than left waiting.
    pub connections_max: usize,
    /// How long one client has to send its whole request, and then (per write) to take the response.
    pub request_deadline_ms: u64,
}

impl AdminLimits {
    /// The default of [`AdminLimits::connections_max`]: far above a scraper and a few load-balancer probes,
    /// and few enough threads that a flood of idle connections costs little memory.
    pub const CONNECTIONS_MAX_DEFAULT: usize = 64;
    /// The most [`AdminLimits::connections_max`] accepted (threads are the cost).
    pub const CONNECTIONS_MAX_MAX: usize = 1_024;
    /// The default of [`AdminLimits::request_deadline_ms`].
    pub const REQUEST_DEADLINE_MS_DEFAULT: u64 = 2_000;
    /// The longest [`AdminLimits::request_deadline_ms`] accepted.
    pub const REQUEST_DEADLINE_MS_MAX: u64 = 600_000;

    /// Checks every field's range; the error names the field.
    ///
    /// # Errors
    ///
    /// [`AdminLimitsError`] for the first field out of range.
    pub fn validate(&self) -> Result<(), AdminLimitsError> {
        let checks = [
            (
                "connections_max",
                self.connections_max as u64,
                1,
                Self::CONNECTIONS_MAX_MAX as u64,
            ),
            (
                "request_deadline_ms",
                self.request_deadline_ms,
                1,
                Self::REQUEST_DEADLINE_MS_MAX,
            ),
        ];
        for (field, value, min, max) in checks {
            if !(min..=max).contains(&value) {
                return Err(AdminLimitsError {
                    field,
                    value,
                    min,
                    max,
                });
            }
        }
        Ok(())
    }
}

impl Default for AdminLimits {
    fn default() -> Self {
        AdminLimits {
            connections_max: Self::CONNECTIONS_MAX_DEFAULT,
            request_deadline_ms: Self::REQUEST_DEADLINE_MS_DEFAULT,
        }
    }
}

/// An [`AdminLimits`] field out of its range (the caller's mistake).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("admin limits: {field} = {value} is outside {min}..={max}")]
pub struct AdminLimitsError {
    /// The field's name.
    pub field: &'static str,
    /// The value given.
    pub value: u64,
    /// The smallest value allowed.
    pub min: u64,
    /// The largest value allowed.
    pub max: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_zero_is_not() {
        AdminLimits::default().validate().unwrap();
        let zero = AdminLimits {
            connections_max: 0,
            ..AdminLimits::default()
        };
        assert_eq!(zero.validate().unwrap_err().field, "connections_max");
        let forever = AdminLimits {
            request_deadline_ms: AdminLimits::REQUEST_DEADLINE_MS_MAX + 1,
            ..AdminLimits::default()
        };
        assert_eq!(forever.validate().unwrap_err().field, "request_deadline_ms");
    }
}
