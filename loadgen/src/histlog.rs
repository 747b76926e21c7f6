//! `--histogram-log FILE`: an HdrHistogram interval log (the format of Java's `HistogramLogWriter`, read
//! by `HistogramLogProcessor` and HdrHistogram plotters), one interval per second per message kind.
//!
//! Values are nanoseconds (no max-value divisor); each line is tagged with the kind (`echo`, or `ack` and
//! `deliver`) and its timestamp counts from the `BaseTime` header, the run's start. Intervals are the
//! difference of two cumulative snapshots from the client threads, so nothing is reset on the hot path.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::Path;
use std::time::{Duration, SystemTime};

use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;

use crate::stats::{new_histogram, Stats};

/// Writing the log failed: a local problem (disk, path), never the server's.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HistogramLogError {
    /// The file could not be created or written.
    #[error("histogram log {path}: {why}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        why: String,
    },
}

/// The message kinds logged, with the histogram of each in `stats`.
pub fn kinds(stats: &Stats, chat: bool) -> Vec<(&'static str, &Histogram<u64>)> {
    match chat {
        true => vec![
            ("ack", &stats.ack_latency),
            ("deliver", &stats.deliver_latency),
        ],
        false => vec![("echo", &stats.latency)],
    }
}

/// An open interval log.
pub struct HistogramLog {
    path: String,
    file: BufWriter<File>,
    serializer: V2DeflateSerializer,
    chat: bool,
    /// The cumulative histograms at the end of the previous interval, per kind.
    previous: Vec<Histogram<u64>>,
    /// Where the previous interval ended, since the run's start.
    previous_at: Duration,
}

impl HistogramLog {
    /// Creates `path` and writes the headers; `chat` selects the kinds.
    pub fn create(path: &Path, chat: bool, started: SystemTime) -> Result<Self, HistogramLogError> {
        let name = path.display().to_string();
        let io = |e: std::io::Error| HistogramLogError::Io {
            path: name.clone(),
            why: e.to_string(),
        };
        let mut file = BufWriter::new(File::create(path).map_err(io)?);
        let mut serializer = V2DeflateSerializer::new();
        IntervalLogWriterBuilder::new()
            .add_comment("switchboard-loadgen latency, values in nanoseconds")
            .with_start_time(started)
            .with_base_time(started)
            .begin_log_with(&mut file, &mut serializer)
            .map_err(io)?;
        let count = kinds(&Stats::default(), chat).len();
        Ok(HistogramLog {
            path: name,
            file,
            serializer,
            chat,
            previous: (0..count).map(|_| new_histogram()).collect(),
            previous_at: Duration::ZERO,
        })
    }

    /// Logs the interval from the previous call to `at` (since the run's start), given the run's
    /// cumulative `stats` at `at`.
    pub fn write_interval(&mut self, stats: &Stats, at: Duration) -> Result<(), HistogramLogError> {
        let duration = at.saturating_sub(self.previous_at);
        let mut writer = IntervalLogWriterBuilder::new()
            .begin_log_with(&mut self.file, &mut self.serializer)
            .map_err(|e| HistogramLogError::Io {
                path: self.path.clone(),
                why: e.to_string(),
            })?;
        for (i, (kind, cumulative)) in kinds(stats, self.chat).into_iter().enumerate() {
            let mut interval = cumulative.clone();
            // Cumulative counts only grow, so the difference is the interval's own histogram.
            interval
                .subtract(&self.previous[i])
                .expect("cumulative histograms only grow");
            writer
                .write_histogram(&interval, self.previous_at, duration, Tag::new(kind))
                .map_err(|e| HistogramLogError::Io {
                    path: self.path.clone(),
                    why: e.to_string(),
                })?;
            self.previous[i] = cumulative.clone();
        }
        self.previous_at = at;
        self.file.flush().map_err(|e| HistogramLogError::Io {
            path: self.path.clone(),
            why: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    use super::*;
    use crate::stats::record;

    #[test]
    fn intervals_are_differences_and_read_back() {
        let path = std::env::temp_dir().join(format!("loadgen-hlog-{}.hlog", std::process::id()));
        let mut log = HistogramLog::create(&path, false, SystemTime::now()).unwrap();
        let mut stats = Stats::default();
        record(&mut stats.latency, 1_000);
        log.write_interval(&stats, Duration::from_secs(1)).unwrap();
        record(&mut stats.latency, 2_000);
        record(&mut stats.latency, 3_000);
        log.write_interval(&stats, Duration::from_secs(2)).unwrap();
        let text = std::fs::read(&path).unwrap();
        let intervals: Vec<_> = IntervalLogIterator::new(&text)
            .filter_map(|entry| match entry.unwrap() {
                LogEntry::Interval(h) => Some((h.tag().unwrap().as_str().to_string(), h.max())),
                _ => None,
            })
            .collect();
        assert_eq!(intervals.len(), 2);
        assert_eq!(intervals[0].0, "echo");
        // The second interval holds 2 µs and 3 µs only (max ≈ 3000 ns).
        assert!((intervals[1].1 - 3_000.0).abs() < 10.0, "{intervals:?}");
        std::fs::remove_file(&path).unwrap();
    }
}
