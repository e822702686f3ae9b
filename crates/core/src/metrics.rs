//! The process-wide metrics registry and its Prometheus text exposition.
//!
//! Families are registered by name and survive reloads: a new instance asking for
//! `coredns_dns_requests_total` gets the family the old one counted into, so counters never
//! jump back to zero. A labelled series is looked up once (at setup, or the first time a label
//! combination is seen) and then updated through its handle with one atomic operation; the
//! query path never hashes label values.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// `TimeBuckets` of CoreDNS (seconds).
pub const TIME_BUCKETS: &[f64] = &[
    0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024,
    2.048, 4.096, 8.192,
];
/// `SlimTimeBuckets` of CoreDNS (seconds).
pub const SLIM_TIME_BUCKETS: &[f64] = &[0.00025, 0.0025, 0.025, 0.25, 2.5];
/// `SizeBuckets` of CoreDNS (bytes).
pub const SIZE_BUCKETS: &[f64] = &[
    0.0, 100.0, 200.0, 300.0, 400.0, 511.0, 1023.0, 2047.0, 4095.0, 8291.0, 16000.0, 32000.0,
    48000.0, 64000.0,
];
/// Prometheus client default buckets (seconds).
pub const DEF_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Something that writes exposition text for one or more families.
pub trait Collect: Send + Sync {
    /// Appends `# HELP`, `# TYPE` and sample lines.
    fn encode(&self, out: &mut String);
}

/// The registry: families by name.
#[derive(Default)]
pub struct Registry {
    families: Mutex<BTreeMap<String, Arc<dyn Collect>>>,
    counters: Mutex<BTreeMap<String, Arc<Family<Counter>>>>,
    gauges: Mutex<BTreeMap<String, Arc<Family<Gauge>>>>,
    histograms: Mutex<BTreeMap<String, Arc<Family<Histogram>>>>,
}

/// The process-wide registry.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

impl Registry {
    fn family<M: Metric>(
        &self,
        map: &Mutex<BTreeMap<String, Arc<Family<M>>>>,
        name: &str,
        help: &str,
        labels: &'static [&'static str],
        make: impl Fn() -> M + Send + Sync + 'static,
    ) -> Arc<Family<M>> {
        let mut map = map.lock().expect("metrics lock");
        if let Some(f) = map.get(name) {
            return f.clone();
        }
        let f = Arc::new(Family {
            name: name.to_string(),
            help: help.to_string(),
            labels,
            make: Box::new(make),
            series: Mutex::new(BTreeMap::new()),
        });
        map.insert(name.to_string(), f.clone());
        self.register(name, f.clone());
        f
    }

    /// A counter family (existing one if the name is taken).
    pub fn counter(
        &self,
        name: &str,
        help: &str,
        labels: &'static [&'static str],
    ) -> Arc<Family<Counter>> {
        self.family(&self.counters, name, help, labels, Counter::default)
    }

    /// A gauge family.
    pub fn gauge(
        &self,
        name: &str,
        help: &str,
        labels: &'static [&'static str],
    ) -> Arc<Family<Gauge>> {
        self.family(&self.gauges, name, help, labels, Gauge::default)
    }

    /// A histogram family with fixed buckets.
    pub fn histogram(
        &self,
        name: &str,
        help: &str,
        labels: &'static [&'static str],
        buckets: &'static [f64],
    ) -> Arc<Family<Histogram>> {
        self.family(&self.histograms, name, help, labels, move || {
            Histogram::new(buckets)
        })
    }

    /// Registers a custom collector under `name` (replacing one of the same name).
    pub fn register(&self, name: &str, c: Arc<dyn Collect>) {
        self.families
            .lock()
            .expect("metrics lock")
            .insert(name.to_string(), c);
    }

    /// The whole exposition, families sorted by name.
    pub fn encode(&self) -> String {
        let families: Vec<Arc<dyn Collect>> = self
            .families
            .lock()
            .expect("metrics lock")
            .values()
            .cloned()
            .collect();
        let mut out = String::with_capacity(8192);
        for f in families {
            f.encode(&mut out);
        }
        out
    }
}

/// A metric kind that a [`Family`] holds series of.
pub trait Metric: Clone + Send + Sync + 'static {
    /// `counter`, `gauge` or `histogram`.
    const KIND: &'static str;
    /// Appends the sample lines of one series.
    fn encode_series(&self, name: &str, labels: &str, out: &mut String);
}

/// A named metric with a fixed set of label names and one series per label-value tuple.
pub struct Family<M: Metric> {
    name: String,
    help: String,
    labels: &'static [&'static str],
    make: Box<dyn Fn() -> M + Send + Sync>,
    series: Mutex<BTreeMap<Vec<String>, M>>,
}

impl<M: Metric> Family<M> {
    /// The series for these label values (in the order of the label names), created on first use.
    pub fn with(&self, values: &[&str]) -> M {
        debug_assert_eq!(values.len(), self.labels.len(), "{}", self.name);
        let mut series = self.series.lock().expect("metrics lock");
        if let Some(m) = series.get(
            values
                .iter()
                .copied()
                .map(str::to_string)
                .collect::<Vec<_>>()
                .as_slice(),
        ) {
            return m.clone();
        }
        let m = (self.make)();
        series.insert(values.iter().map(|s| s.to_string()).collect(), m.clone());
        m
    }

    /// Makes the series of these label values the family's only one, in one step (a scrape
    /// never sees the family empty in between): for info gauges such as
    /// `coredns_reload_version_info`.
    pub fn only(&self, values: &[&str]) -> M {
        debug_assert_eq!(values.len(), self.labels.len(), "{}", self.name);
        let mut series = self.series.lock().expect("metrics lock");
        let key: Vec<String> = values.iter().map(|s| s.to_string()).collect();
        let m = series.remove(&key).unwrap_or_else(|| (self.make)());
        series.clear();
        series.insert(key, m.clone());
        m
    }

    /// Drops every series (used for gauges rebuilt on reload, like `coredns_plugin_enabled`).
    pub fn reset(&self) {
        self.series.lock().expect("metrics lock").clear();
    }

    /// The metric name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<M: Metric> Collect for Family<M> {
    fn encode(&self, out: &mut String) {
        let series = self.series.lock().expect("metrics lock");
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} {}", self.name, M::KIND);
        for (values, m) in series.iter() {
            let mut labels = String::new();
            for (i, (k, v)) in self.labels.iter().zip(values).enumerate() {
                if i > 0 {
                    labels.push(',');
                }
                let _ = write!(labels, "{k}=\"");
                escape_label(v, &mut labels);
                labels.push('"');
            }
            m.encode_series(&self.name, &labels, out);
        }
    }
}

fn escape_label(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn braces(labels: &str) -> String {
    if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    }
}

/// Formats a float the way Prometheus expects (`+Inf`, integers without a fraction).
pub fn fmt_float(v: f64, out: &mut String) {
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.is_nan() {
        out.push_str("NaN");
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

/// A monotonically increasing count.
#[derive(Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    #[inline]
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Metric for Counter {
    const KIND: &'static str = "counter";
    fn encode_series(&self, name: &str, labels: &str, out: &mut String) {
        let _ = writeln!(out, "{name}{} {}", braces(labels), self.get());
    }
}

/// A value that goes up and down (stored as f64 bits).
#[derive(Clone, Default)]
pub struct Gauge(Arc<AtomicU64>);

impl Gauge {
    pub fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed);
    }
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
    pub fn add(&self, d: f64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                Some((f64::from_bits(b) + d).to_bits())
            });
    }
}

impl Metric for Gauge {
    const KIND: &'static str = "gauge";
    fn encode_series(&self, name: &str, labels: &str, out: &mut String) {
        let _ = write!(out, "{name}{} ", braces(labels));
        fmt_float(self.get(), out);
        out.push('\n');
    }
}

struct HistogramCore {
    bounds: &'static [f64],
    /// Per-bucket (non-cumulative) counts; the last slot is +Inf.
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
}

/// A distribution over fixed buckets.
#[derive(Clone)]
pub struct Histogram(Arc<HistogramCore>);

impl Histogram {
    /// A histogram with these upper bounds.
    pub fn new(bounds: &'static [f64]) -> Self {
        Histogram(Arc::new(HistogramCore {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
        }))
    }

    /// Records one value.
    #[inline]
    pub fn observe(&self, v: f64) {
        let i = self.0.bounds.partition_point(|&b| b < v);
        self.0.counts[i].fetch_add(1, Ordering::Relaxed);
        let _ = self
            .0
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                Some((f64::from_bits(b) + v).to_bits())
            });
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.0
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}

impl Metric for Histogram {
    const KIND: &'static str = "histogram";
    fn encode_series(&self, name: &str, labels: &str, out: &mut String) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (i, bound) in self
            .0
            .bounds
            .iter()
            .chain(std::iter::once(&f64::INFINITY))
            .enumerate()
        {
            cumulative += self.0.counts[i].load(Ordering::Relaxed);
            let _ = write!(out, "{name}_bucket{{{labels}{sep}le=\"");
            fmt_float(*bound, out);
            let _ = writeln!(out, "\"}} {cumulative}");
        }
        let _ = write!(out, "{name}_sum{} ", braces(labels));
        fmt_float(f64::from_bits(self.0.sum.load(Ordering::Relaxed)), out);
        out.push('\n');
        let _ = writeln!(out, "{name}_count{} {cumulative}", braces(labels));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_leaves_one_series() {
        let r = Registry::default();
        let info = r.gauge("test_version_info", "Version.", &["value"]);
        info.only(&["a"]).set(1.0);
        info.only(&["b"]).set(1.0);
        let text = r.encode();
        assert!(
            text.contains("test_version_info{value=\"b\"} 1\n"),
            "{text}"
        );
        assert!(!text.contains("value=\"a\""), "{text}");
        // The same value again keeps its series.
        info.only(&["b"]).set(1.0);
        assert_eq!(r.encode().matches("test_version_info{").count(), 1);
    }

    #[test]
    fn families_are_shared_by_name_and_encode() {
        let r = Registry::default();
        let a = r.counter("test_requests_total", "Requests.", &["zone"]);
        let b = r.counter("test_requests_total", "Requests.", &["zone"]);
        a.with(&["example.org."]).inc();
        b.with(&["example.org."]).add(2);
        let h = r.histogram("test_size_bytes", "Size.", &[], SIZE_BUCKETS);
        h.with(&[]).observe(150.0);
        let text = r.encode();
        assert!(
            text.contains("test_requests_total{zone=\"example.org.\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("test_size_bytes_bucket{le=\"100\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("test_size_bytes_bucket{le=\"200\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("test_size_bytes_bucket{le=\"+Inf\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("test_size_bytes_sum 150\n"), "{text}");
        assert!(
            text.contains("# TYPE test_size_bytes histogram\n"),
            "{text}"
        );
    }
}
