//! Median with min–max over repeated runs, and ratios against Switchboard.

use serde::{Deserialize, Serialize};

/// One figure over several runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Median of the runs (mean of the two middle runs for an even count).
    pub median: f64,
    /// Smallest run.
    pub min: f64,
    /// Largest run.
    pub max: f64,
    /// Number of runs summarised.
    pub runs: usize,
}

impl Summary {
    /// Summarises `values`; `None` when there are none (or any is NaN).
    pub fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() || values.iter().any(|v| v.is_nan()) {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let middle = sorted.len() / 2;
        let median = if sorted.len() % 2 == 1 {
            sorted[middle]
        } else {
            (sorted[middle - 1] + sorted[middle]) / 2.0
        };
        Some(Self {
            median,
            min: sorted[0],
            max: sorted[sorted.len() - 1],
            runs: sorted.len(),
        })
    }
}

/// `value / reference`, or `None` when the reference is zero or missing.
pub fn ratio(value: f64, reference: Option<f64>) -> Option<f64> {
    reference.filter(|r| *r > 0.0).map(|r| value / r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_and_even() {
        let odd = Summary::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((odd.median, odd.min, odd.max, odd.runs), (2.0, 1.0, 3.0, 3));
        let even = Summary::of(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(even.median, 2.5);
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(Summary::of(&[f64::NAN]), None);
    }

    #[test]
    fn ratio_needs_a_reference() {
        assert_eq!(ratio(2.0, Some(4.0)), Some(0.5));
        assert_eq!(ratio(2.0, Some(0.0)), None);
        assert_eq!(ratio(2.0, None), None);
    }
}
