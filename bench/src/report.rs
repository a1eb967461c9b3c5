//! Turning measurements into the human table and the JSON object.

use crate::run::{Outcome, Plan};

/// Everything reported.
#[derive(Debug, Clone)]
pub struct Report {
    clients: usize,
    rooms: usize,
    size: usize,
    messages_sent: u64,
    deliveries_expected: u64,
    deliveries_received: u64,
    /// Deliveries that never arrived.
    pub lost: u64,
    /// Deliveries that arrived twice.
    pub duplicates: u64,
    delivered_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    connect_s: f64,
    logins_per_sec: f64,
    registrations_per_sec: f64,
    join_s: f64,
    message_s: f64,
    server_rss_mib: Option<f64>,
    bench_cpu_s: f64,
    server_cpu_s: Option<f64>,
    storm_logins: usize,
    storm_s: f64,
    sessions_held: usize,
    server_rss_idle_mib: Option<f64>,
    changes_sent: u64,
    refused: u64,
    typing_sent: u64,
    events_received: u64,
    shared: Option<crate::share::Shared>,
}

impl Report {
    /// Builds the report.
    pub fn new(plan: &Plan, o: &Outcome, server_rss_mib: Option<f64>, bench_cpu_s: f64) -> Self {
        let q = |p: f64| {
            o.latency_us
                .as_ref()
                .map_or(0.0, |h| h.value_at_quantile(p) as f64 / 1000.0)
        };
        let per = |n: f64, s: f64| if s > 0.0 { n / s } else { 0.0 };
        Self {
            clients: plan.clients,
            rooms: plan.rooms,
            size: plan.size,
            messages_sent: o.messages_sent,
            deliveries_expected: o.deliveries_expected,
            deliveries_received: o.deliveries_received,
            lost: o.deliveries_expected.saturating_sub(o.deliveries_received),
            duplicates: o.duplicates,
            delivered_per_sec: per(o.deliveries_received as f64, o.message_s),
            p50_ms: q(0.5),
            p99_ms: q(0.99),
            max_ms: o
                .latency_us
                .as_ref()
                .map_or(0.0, |h| h.max() as f64 / 1000.0),
            connect_s: o.connect_s,
            logins_per_sec: per(plan.clients as f64, o.connect_s),
            registrations_per_sec: per((plan.clients + plan.storm) as f64, o.register_s),
            join_s: o.join_s,
            message_s: o.message_s,
            server_rss_mib,
            bench_cpu_s,
            server_cpu_s: o.server_cpu_s,
            storm_logins: plan.storm,
            storm_s: o.storm_s,
            sessions_held: o.sessions_held,
            server_rss_idle_mib: o.server_rss_idle_mib,
            changes_sent: o.changes_sent,
            refused: o.refused,
            typing_sent: o.typing_sent,
            events_received: o.events_received,
            shared: o.shared.clone(),
        }
    }

    /// The shared file's upload and download rates, in MiB/s.
    fn file_rates(&self) -> Option<(f64, f64)> {
        let s = self.shared.as_ref()?;
        let mib = s.bytes as f64 / (1 << 20) as f64;
        let per = |n: f64, t: f64| if t > 0.0 { n / t } else { 0.0 };
        Some((
            per(mib, s.upload_s),
            per(mib * s.downloads as f64, s.download_s),
        ))
    }

    /// Deliveries that should have happened.
    pub fn deliveries_expected(&self) -> u64 {
        self.deliveries_expected
    }

    /// Deliveries that happened.
    pub fn deliveries_received(&self) -> u64 {
        self.deliveries_received
    }

    /// Median end-to-end latency.
    pub fn p50_ms(&self) -> f64 {
        self.p50_ms
    }

    /// 99th percentile end-to-end latency.
    pub fn p99_ms(&self) -> f64 {
        self.p99_ms
    }

    /// Worst end-to-end latency.
    pub fn max_ms(&self) -> f64 {
        self.max_ms
    }

    /// The JSON object (the keys documented in docs/benchmarks.md).
    pub fn json(&self) -> String {
        serde_json::json!({
            "clients": self.clients,
            "rooms": self.rooms,
            "size": self.size,
            "messages_sent": self.messages_sent,
            "deliveries_expected": self.deliveries_expected,
            "deliveries_received": self.deliveries_received,
            "lost": self.lost,
            "duplicates": self.duplicates,
            "delivered_per_sec": self.delivered_per_sec.round(),
            "latency_ms": { "p50": self.p50_ms, "p99": self.p99_ms, "max": self.max_ms },
            "connect_s": self.connect_s,
            "logins_per_sec": self.logins_per_sec,
            "registrations_per_sec": self.registrations_per_sec,
            "join_s": self.join_s,
            "message_s": self.message_s,
            "server_rss_mib": self.server_rss_mib,
            "bench_cpu_s": self.bench_cpu_s,
            "server_cpu_s": self.server_cpu_s,
            "server_cpu_us_per_delivery": self.server_cpu_per_delivery_us(),
            "storm_logins": self.storm_logins,
            "storm_s": self.storm_s,
            "idle_connections": self.sessions_held,
            "server_rss_idle_mib": self.server_rss_idle_mib,
            "changes_sent": self.changes_sent,
            "refused": self.refused,
            "typing_sent": self.typing_sent,
            "events_received": self.events_received,
            "file": self.shared.as_ref().zip(self.file_rates()).map(|(s, (up, down))| serde_json::json!({
                "bytes": s.bytes,
                "upload_s": s.upload_s,
                "upload_mib_per_sec": up,
                "downloads": s.downloads,
                "download_s": s.download_s,
                "download_mib_per_sec": down,
            })),
        })
        .to_string()
    }

    /// The server's CPU time over the message phase per delivery made.
    fn server_cpu_per_delivery_us(&self) -> Option<f64> {
        let cpu = self.server_cpu_s?;
        (self.deliveries_received > 0).then(|| cpu * 1e6 / self.deliveries_received as f64)
    }

    /// The human table.
    pub fn table(&self) -> String {
        let rss = self
            .server_rss_mib
            .map_or_else(|| "n/a".to_owned(), |r| format!("{r:.1} MiB"));
        let file = match (&self.shared, self.file_rates()) {
            (Some(s), Some((up, down))) => format!(
                "shared file         {:>10} B up in {:.2} s ({up:.1} MiB/s); {} downloads in {:.2} s ({down:.1} MiB/s)\n",
                s.bytes, s.upload_s, s.downloads, s.download_s
            ),
            _ => String::new(),
        };
        let table = format!(
            "clients {} · rooms {} · {} B messages\n\
             registrations       {:>10.1} /s\n\
             connect+login       {:>10.2} s ({:.1} logins/s)\n\
             join rooms          {:>10.2} s\n\
             messages sent       {:>10}\n\
             reactions+edits     {:>10} ({} refused; typing {}; events received {})\n\
             deliveries          {:>10} of {} expected (lost {}, duplicates {})\n\
             delivered           {:>10.0} /s over {:.2} s\n\
             latency p50/p99/max {:>7.2} / {:.2} / {:.2} ms\n\
             login storm         {:>10} logins in {:.2} s\n\
             idle connections    {:>10} (server RSS meanwhile {})\n\
             server peak RSS     {:>10}\n\
             bench CPU time      {:>10.2} s\n\
             server CPU (msgs)   {:>10} ({} per delivery)\n",
            self.clients,
            self.rooms,
            self.size,
            self.registrations_per_sec,
            self.connect_s,
            self.logins_per_sec,
            self.join_s,
            self.messages_sent,
            self.changes_sent,
            self.refused,
            self.typing_sent,
            self.events_received,
            self.deliveries_received,
            self.deliveries_expected,
            self.lost,
            self.duplicates,
            self.delivered_per_sec,
            self.message_s,
            self.p50_ms,
            self.p99_ms,
            self.max_ms,
            self.storm_logins,
            self.storm_s,
            self.sessions_held,
            self.server_rss_idle_mib
                .map_or_else(|| "n/a".to_owned(), |r| format!("{r:.1} MiB")),
            rss,
            self.bench_cpu_s,
            self.server_cpu_s
                .map_or_else(|| "n/a".to_owned(), |c| format!("{c:.2} s")),
            self.server_cpu_per_delivery_us()
                .map_or_else(|| "n/a".to_owned(), |c| format!("{c:.2} µs")),
        );
        table + &file
    }
}

/// This process's user+system CPU time, from `/proc/self/stat` (clock ticks
/// of 1/100 s, the Linux default).
pub fn own_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat").map_or(0.0, |s| cpu_seconds(&s))
}

/// Another process's user+system CPU seconds, if it can be read.
pub fn cpu_seconds_of(pid: u32) -> Option<f64> {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .map(|s| cpu_seconds(&s))
}

/// User+system CPU seconds from the text of a `/proc/PID/stat` file.
pub fn cpu_seconds(stat: &str) -> f64 {
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_documented_keys() {
        let plan = Plan {
            clients: 4,
            rooms: 1,
            messages: 2,
            size: 100,
            rate: None,
            concurrency: 2,
            window: 4,
            drain: std::time::Duration::from_secs(1),
            storm: 0,
            offline: 0,
            server_pid: None,
            mix: false,
            file_bytes: 0,
            file_downloads: 0,
        };
        let o = Outcome {
            messages_sent: 8,
            deliveries_expected: 24,
            deliveries_received: 23,
            message_s: 0.5,
            connect_s: 2.0,
            server_cpu_s: Some(0.046),
            ..Outcome::default()
        };
        let r = Report::new(&plan, &o, Some(12.5), 0.3);
        assert_eq!(r.lost, 1);
        let v: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        for key in [
            "clients",
            "rooms",
            "size",
            "messages_sent",
            "deliveries_expected",
            "deliveries_received",
            "lost",
            "duplicates",
            "delivered_per_sec",
            "latency_ms",
            "connect_s",
            "logins_per_sec",
            "server_rss_mib",
            "bench_cpu_s",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
        for q in ["p50", "p99", "max"] {
            assert!(v["latency_ms"].get(q).is_some());
        }
        assert_eq!(v["delivered_per_sec"], 46.0);
        assert_eq!(v["logins_per_sec"], 2.0);
        // 0.046 s over 23 deliveries.
        let per = v["server_cpu_us_per_delivery"].as_f64().unwrap();
        assert!((per - 2000.0).abs() < 1e-6, "{per}");
        assert!(
            r.table()
                .contains("server CPU (msgs)       0.05 s (2000.00 µs per delivery)"),
            "{}",
            r.table()
        );
    }

    #[test]
    fn cpu_time_from_proc_stat() {
        // A command name with spaces and parentheses must not shift fields.
        let stat = "42 (my (odd) cmd) S 1 42 42 0 -1 4194560 100 0 0 0 250 125 0 0 20 0 1 0";
        assert!((cpu_seconds(stat) - 3.75).abs() < 1e-9);
        assert_eq!(cpu_seconds("garbage"), 0.0);
    }
}
