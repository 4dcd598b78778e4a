//! The Prometheus text format (version 0.0.4), written by hand: `# HELP`
//! and `# TYPE` lines, then the samples. The format is small, and the
//! values come from plain snapshots taken on the driver task, so a
//! client library's registry of shared atomics would add nothing but a
//! dependency.

use std::fmt::Write as _;

use crate::Histogram;

/// The `Content-Type` of the text format.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The type of a metric of integer samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Only goes up (until the server restarts).
    Counter,
    /// What is there now.
    Gauge,
}

impl MetricKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
        }
    }
}

/// A scrape's text being written: one call per metric family.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    /// An empty exposition.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A metric of one sample (a counter's `name` ends in `_total`).
    pub fn single(&mut self, kind: MetricKind, name: &str, help: &str, value: u64) {
        self.head(name, help, kind.as_str());
        self.sample(name, None, &value.to_string());
    }

    /// A metric with one label: a sample per `(label value, value)`.
    pub fn by_label<'a>(
        &mut self,
        kind: MetricKind,
        name: &str,
        help: &str,
        label: &str,
        values: impl IntoIterator<Item = (&'a str, u64)>,
    ) {
        self.head(name, help, kind.as_str());
        for (value, count) in values {
            self.sample(name, Some((label, value)), &count.to_string());
        }
    }

    /// A histogram: cumulative `_bucket{le=..}` samples (`+Inf` last),
    /// `_sum` and `_count`.
    pub fn histogram(&mut self, name: &str, help: &str, histogram: &Histogram) {
        self.head(name, help, "histogram");
        let bucket = format!("{name}_bucket");
        for (bound, count) in histogram.cumulative() {
            let le = if bound.is_finite() {
                bound.to_string()
            } else {
                "+Inf".to_owned()
            };
            self.sample(&bucket, Some(("le", &le)), &count.to_string());
        }
        self.sample(&format!("{name}_sum"), None, &histogram.sum().to_string());
        self.sample(
            &format!("{name}_count"),
            None,
            &histogram.count().to_string(),
        );
    }

    /// The text to serve.
    #[must_use]
    pub fn finish(self) -> String {
        self.text
    }

    fn head(&mut self, name: &str, help: &str, kind: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, label: Option<(&str, &str)>, value: &str) {
        match label {
            Some((label, text)) => {
                let text = text
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let _ = writeln!(self.text, "{name}{{{label}=\"{text}\"}} {value}");
            }
            None => {
                let _ = writeln!(self.text, "{name} {value}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a failure is the report

    use std::time::Duration;

    use super::*;

    #[test]
    fn families_are_written_in_the_text_format() {
        let mut histogram = Histogram::new(&[0.001, 0.01]);
        histogram.observe(Duration::from_micros(500));
        histogram.observe(Duration::from_millis(5));
        histogram.observe(Duration::from_secs(1));
        let mut text = Exposition::new();
        text.single(MetricKind::Counter, "x_total", "How many.", 3);
        text.by_label(
            MetricKind::Gauge,
            "y",
            "Now, by kind.",
            "kind",
            [("a\"b", 1)],
        );
        text.histogram("z_seconds", "How long.", &histogram);
        assert_eq!(
            text.finish(),
            "# HELP x_total How many.\n# TYPE x_total counter\nx_total 3\n\
             # HELP y Now, by kind.\n# TYPE y gauge\ny{kind=\"a\\\"b\"} 1\n\
             # HELP z_seconds How long.\n# TYPE z_seconds histogram\n\
             z_seconds_bucket{le=\"0.001\"} 1\nz_seconds_bucket{le=\"0.01\"} 2\n\
             z_seconds_bucket{le=\"+Inf\"} 3\nz_seconds_sum 1.0055\nz_seconds_count 3\n"
        );
    }
}
