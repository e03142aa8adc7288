//! The metrics `pbxctl run` exposes, in the Prometheus text format (0.0.4). The one
//! module that names prometheus-client's types: the switch thread publishes its tally
//! here, RTP tasks count through [`RtpCounters`], and the operations listener encodes.
//!
//! No label names a person: calls are counted by status and lockouts by the kind of
//! secret, never by extension, so a scrape shows no one's number and the series stay few.

use crate::engine::event::CallStatus;
use crate::sip::tally::Tally;
use prometheus_client::encoding::{EncodeLabelSet, prometheus_text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The `Content-Type` of what [`Metrics::encode`] writes.
pub(super) const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// A call record's status, as a label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Status {
    status: &'static str,
}

/// A kind of secret, as a label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Secret {
    secret: String,
}

/// What call legs' RTP tasks count, shared by all of them.
#[derive(Clone, Debug, Default)]
pub(super) struct RtpCounters {
    relayed: Counter,
    lost: Counter,
}

impl RtpCounters {
    /// One packet sent on to the other leg of a bridge.
    pub fn relayed(&self) {
        self.relayed.inc();
    }

    /// `n` packets found missing from what a bridged leg received.
    pub fn lost(&self, n: u64) {
        if n > 0 {
            self.lost.inc_by(n);
        }
    }
}

/// The registry and the metrics in it.
#[derive(Debug)]
pub(super) struct Metrics {
    registry: Registry,
    calls_up: Gauge,
    legs_up: Gauge,
    calls: Family<Status, Counter>,
    registrations: Gauge,
    registers_accepted: Counter,
    auth_failures: Counter,
    blocked_sources: Gauge,
    source_blocks: Counter,
    lockouts: Family<Secret, Counter>,
    rtp: RtpCounters,
}

impl Metrics {
    /// Every metric at zero; lockouts are listed for the kinds of secret in `secrets`
    /// (the plan's policies), so a rate over them starts at 0 rather than at nothing.
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Metrics {
        let mut m = Metrics {
            registry: Registry::with_prefix("pbxctl"),
            calls_up: Gauge::default(),
            legs_up: Gauge::default(),
            calls: Family::default(),
            registrations: Gauge::default(),
            registers_accepted: Counter::default(),
            auth_failures: Counter::default(),
            blocked_sources: Gauge::default(),
            source_blocks: Counter::default(),
            lockouts: Family::default(),
            rtp: RtpCounters::default(),
        };
        for status in CallStatus::ALL {
            m.calls.get_or_create_owned(&Status {
                status: status.as_str(),
            });
        }
        for secret in secrets {
            let secret = secret.to_owned();
            m.lockouts.get_or_create_owned(&Secret { secret });
        }
        let r = &mut m.registry;
        r.register(
            "calls_up",
            "Calls in progress: callers' legs the dialplan serves",
            m.calls_up.clone(),
        );
        r.register(
            "legs_up",
            "Call legs up: callers' legs and the legs the PBX placed for them",
            m.legs_up.clone(),
        );
        r.register(
            "calls",
            "Calls ended, by the status of their call record",
            m.calls.clone(),
        );
        r.register(
            "registrations",
            "Phone contacts registered now",
            m.registrations.clone(),
        );
        r.register(
            "registers_accepted",
            "REGISTER requests accepted",
            m.registers_accepted.clone(),
        );
        r.register(
            "auth_failures",
            "Failed SIP digest authentications (wrong answers, not the first challenge)",
            m.auth_failures.clone(),
        );
        r.register(
            "blocked_sources",
            "Source addresses the auth guard refuses now",
            m.blocked_sources.clone(),
        );
        r.register(
            "source_blocks",
            "Blocks the auth guard started on a source address",
            m.source_blocks.clone(),
        );
        r.register(
            "lockouts",
            "Secrets locked by too many wrong entries, by kind of secret",
            m.lockouts.clone(),
        );
        r.register(
            "rtp_relayed_packets",
            "RTP packets sent on from one bridged leg to the other",
            m.rtp.relayed.clone(),
        );
        r.register(
            "rtp_lost_packets",
            "RTP packets missing from what bridged legs received (sequence number gaps)",
            m.rtp.lost.clone(),
        );
        m
    }

    /// The counters RTP tasks share.
    pub fn rtp(&self) -> RtpCounters {
        self.rtp.clone()
    }

    /// Shows the switch's tally. Called from the switch thread only, so a counter's
    /// catching up with its total cannot race another.
    pub fn publish(&self, tally: &Tally) {
        set(&self.calls_up, tally.calls_up);
        set(&self.legs_up, tally.legs_up);
        set(&self.registrations, tally.registrations);
        set(&self.blocked_sources, tally.blocked_sources);
        catch_up(&self.registers_accepted, tally.registers_accepted);
        catch_up(&self.auth_failures, tally.auth_failures);
        catch_up(&self.source_blocks, tally.source_blocks);
        for status in CallStatus::ALL {
            let status_label = Status {
                status: status.as_str(),
            };
            let counter = self.calls.get_or_create_owned(&status_label);
            catch_up(&counter, tally.calls_ended(status));
        }
        for (secret, total) in &tally.lockouts {
            let secret = secret.clone();
            catch_up(
                &self.lockouts.get_or_create_owned(&Secret { secret }),
                *total,
            );
        }
    }

    /// Every metric with its `# HELP` and `# TYPE`, in the Prometheus text format.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

fn set(gauge: &Gauge, value: u64) {
    gauge.set(i64::try_from(value).unwrap_or(i64::MAX));
}

/// Moves a counter up to `total` (the switch keeps totals; a counter only goes up).
fn catch_up(counter: &Counter, total: u64) {
    let shown = counter.get();
    if total > shown {
        counter.inc_by(total - shown);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of the sample written exactly `series` (name and labels).
    fn sample(text: &str, series: &str) -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn every_metric_is_described_and_starts_at_zero() {
        let text = Metrics::new(["password", "voicemail"]).encode().unwrap();
        let expected = [
            ("pbxctl_calls_up", "gauge"),
            ("pbxctl_legs_up", "gauge"),
            ("pbxctl_calls_total", "counter"),
            ("pbxctl_registrations", "gauge"),
            ("pbxctl_registers_accepted_total", "counter"),
            ("pbxctl_auth_failures_total", "counter"),
            ("pbxctl_blocked_sources", "gauge"),
            ("pbxctl_source_blocks_total", "counter"),
            ("pbxctl_lockouts_total", "counter"),
            ("pbxctl_rtp_relayed_packets_total", "counter"),
            ("pbxctl_rtp_lost_packets_total", "counter"),
        ];
        for (name, kind) in expected {
            assert!(text.contains(&format!("# HELP {name} ")), "{name}:\n{text}");
            assert!(
                text.contains(&format!("# TYPE {name} {kind}\n")),
                "{name}:\n{text}"
            );
        }
        for status in ["answered", "no-answer", "busy", "failed", "rejected"] {
            let series = format!("pbxctl_calls_total{{status=\"{status}\"}}");
            assert_eq!(sample(&text, &series), Some(0), "{series}:\n{text}");
        }
        let series = "pbxctl_lockouts_total{secret=\"voicemail\"}";
        assert_eq!(sample(&text, series), Some(0), "{text}");
        assert_eq!(sample(&text, "pbxctl_calls_up"), Some(0), "{text}");
        assert!(!text.contains("# EOF"), "0.0.4 has no EOF marker:\n{text}");
    }

    #[test]
    fn a_published_tally_and_rtp_counts_show() {
        let m = Metrics::new(["password"]);
        let mut tally = Tally {
            calls_up: 2,
            legs_up: 3,
            registrations: 4,
            registers_accepted: 5,
            auth_failures: 6,
            blocked_sources: 1,
            source_blocks: 1,
            ..Tally::default()
        };
        tally.call_ended(CallStatus::Answered);
        tally.call_ended(CallStatus::NoAnswer);
        tally.call_ended(CallStatus::NoAnswer);
        tally.locked_out("pin".into());
        m.publish(&tally);
        // A second publish moves counters to the new totals, not by them.
        tally.auth_failures = 7;
        tally.calls_up = 1;
        m.publish(&tally);
        let rtp = m.rtp();
        rtp.relayed();
        rtp.relayed();
        rtp.lost(3);
        rtp.lost(0);
        let text = m.encode().unwrap();
        let expected = [
            ("pbxctl_calls_up", 1),
            ("pbxctl_legs_up", 3),
            ("pbxctl_registrations", 4),
            ("pbxctl_registers_accepted_total", 5),
            ("pbxctl_auth_failures_total", 7),
            ("pbxctl_blocked_sources", 1),
            ("pbxctl_source_blocks_total", 1),
            ("pbxctl_calls_total{status=\"answered\"}", 1),
            ("pbxctl_calls_total{status=\"no-answer\"}", 2),
            ("pbxctl_calls_total{status=\"busy\"}", 0),
            ("pbxctl_lockouts_total{secret=\"pin\"}", 1),
            ("pbxctl_lockouts_total{secret=\"password\"}", 0),
            ("pbxctl_rtp_relayed_packets_total", 2),
            ("pbxctl_rtp_lost_packets_total", 3),
        ];
        for (series, value) in expected {
            assert_eq!(sample(&text, series), Some(value), "{series}:\n{text}");
        }
    }
}
