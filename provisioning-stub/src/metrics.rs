//! Prometheus metrics of `serve`, hand-written text exposition format 0.0.4 (no client
//! crate: a handful of counters does not need one), served on the admin port at
//! `/metrics` by [`serve_admin`].
//!
//! | metric | labels |
//! | --- | --- |
//! | `imeitrack_registrations_total` | `outcome` = accepted, duplicate, replay, rejected |
//! | `imeitrack_rejections_total` | `reason` = malformed, imei_check_digit, unknown_card, unknown_key_version, bad_mac, imeisv_mismatch, iccid_invalid |
//! | `imeitrack_keys_issued_total` | `source` = local, manufacturer |
//! | `imeitrack_provisioning_failures_total` | `stage`, `reason` |
//! | `imeitrack_pushes_sent_total`, `imeitrack_push_segments_total` | — |
//! | `imeitrack_reports_total` | `result` (IMTC result label, or `invalid`) |
//! | `imeitrack_ledger_entries_total` | `kind` |
//! | `imeitrack_deliver_sm_total` | `status` = ok, temporary_error, unknown_message |
//! | `imeitrack_payments_total` | `result` = recorded, already_recorded, error |
//! | `imeitrack_manufacturer_confirmations_total` | `result` = sent, failed, gave_up |
//! | `imeitrack_smpp_bound` (gauge), `imeitrack_smpp_binds_total` | — |

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::Mutex;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::payments::PaymentsApi;

/// Counters keyed by (metric, label name, label value); label name empty = no label.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, &'static str, &'static str), u64>>,
    gauges: Mutex<BTreeMap<&'static str, i64>>,
}

/// HELP text per metric.
const HELP: &[(&str, &str, &str)] = &[
    (
        "imeitrack_registrations_total",
        "counter",
        "Registrations received, by store outcome.",
    ),
    (
        "imeitrack_rejections_total",
        "counter",
        "Registrations refused by verification, by reason.",
    ),
    (
        "imeitrack_keys_issued_total",
        "counter",
        "Device keys issued, by source.",
    ),
    (
        "imeitrack_provisioning_failures_total",
        "counter",
        "Accepted registrations whose provisioning stopped, by stage.",
    ),
    (
        "imeitrack_pushes_sent_total",
        "counter",
        "OMA CP pushes handed to the SMSC.",
    ),
    (
        "imeitrack_push_segments_total",
        "counter",
        "SMS segments of OMA CP pushes submitted.",
    ),
    (
        "imeitrack_reports_total",
        "counter",
        "Provisioning reports (IMTC) from handsets, by result.",
    ),
    (
        "imeitrack_ledger_entries_total",
        "counter",
        "Ledger entries written, by kind.",
    ),
    (
        "imeitrack_deliver_sm_total",
        "counter",
        "deliver_sm handled, by response.",
    ),
    (
        "imeitrack_payments_total",
        "counter",
        "Operator payments posted to the admin port, by result.",
    ),
    (
        "imeitrack_manufacturer_confirmations_total",
        "counter",
        "Download confirmations sent to manufacturers, by result (sent, failed, gave_up).",
    ),
    (
        "imeitrack_smpp_binds_total",
        "counter",
        "Successful SMPP binds.",
    ),
    (
        "imeitrack_smpp_bound",
        "gauge",
        "1 while bound to the SMSC.",
    ),
];

impl Metrics {
    /// Adds `n` to a counter with one label.
    pub fn add(&self, name: &'static str, label: &'static str, value: &'static str, n: u64) {
        if let Ok(mut c) = self.counters.lock() {
            *c.entry((name, label, value)).or_default() += n;
        }
    }

    /// Adds one to a counter with one label.
    pub fn inc(&self, name: &'static str, label: &'static str, value: &'static str) {
        self.add(name, label, value, 1);
    }

    /// Adds one to a counter without labels.
    pub fn inc_plain(&self, name: &'static str) {
        self.add(name, "", "", 1);
    }

    /// Sets a gauge.
    pub fn set(&self, name: &'static str, v: i64) {
        if let Ok(mut g) = self.gauges.lock() {
            g.insert(name, v);
        }
    }

    /// A counter's value (tests).
    pub fn get(&self, name: &str, value: &str) -> u64 {
        self.counters.lock().map_or(0, |c| {
            c.iter()
                .filter(|((n, _, v), _)| *n == name && *v == value)
                .map(|(_, n)| *n)
                .sum()
        })
    }

    /// The text exposition (Prometheus format 0.0.4).
    pub fn render(&self) -> String {
        let counters = self.counters.lock().map(|c| c.clone()).unwrap_or_default();
        let gauges = self.gauges.lock().map(|g| g.clone()).unwrap_or_default();
        let mut out = String::new();
        for (name, kind, help) in HELP {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            if *kind == "gauge" {
                let _ = writeln!(out, "{name} {}", gauges.get(name).copied().unwrap_or(0));
                continue;
            }
            let mut any = false;
            for ((n, label, value), v) in &counters {
                if n != name {
                    continue;
                }
                any = true;
                if label.is_empty() {
                    let _ = writeln!(out, "{name} {v}");
                } else {
                    let _ = writeln!(out, "{name}{{{label}=\"{}\"}} {v}", escape(value));
                }
            }
            if !any && !counters.keys().any(|(n, l, _)| n == name && !l.is_empty()) {
                let _ = writeln!(out, "{name} 0");
            }
        }
        out
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Serves `GET /metrics` (text format) and `GET /healthz` on `listener` until
/// `shutdown` resolves.
pub async fn serve_admin(
    listener: TcpListener,
    metrics: std::sync::Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    serve_admin_with(listener, metrics, None, shutdown).await;
}

/// Largest `POST /payments` body accepted.
const MAX_BODY: usize = 64 * 1024;

/// [`serve_admin`] plus, with `payments`, `POST /payments` (JSON
/// [`crate::payments::PaymentRequest`], answered by [`PaymentsApi::handle`]). The admin
/// port has no authentication: bind it to loopback or a management network.
pub async fn serve_admin_with(
    listener: TcpListener,
    metrics: std::sync::Arc<Metrics>,
    payments: Option<PaymentsApi>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let (tcp, _) = tokio::select! {
            _ = &mut shutdown => return,
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "admin accept");
                    continue;
                }
            },
        };
        let metrics = metrics.clone();
        let payments = payments.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let metrics = metrics.clone();
                let payments = payments.clone();
                async move {
                    let method = req.method().as_str().to_owned();
                    let path = req.uri().path().to_owned();
                    let (status, ctype, body) = match (method.as_str(), path.as_str()) {
                        ("POST", "/payments") if payments.is_some() => {
                            let body = http_body_util::Limited::new(req.into_body(), MAX_BODY);
                            let (code, text) = match body.collect().await {
                                Ok(b) => match &payments {
                                    Some(p) => p.handle(&b.to_bytes()).await,
                                    None => (404, String::new()),
                                },
                                Err(e) => (
                                    400,
                                    serde_json::json!({ "error": format!("body: {e}") })
                                        .to_string(),
                                ),
                            };
                            (
                                StatusCode::from_u16(code)
                                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                                "application/json",
                                text + "\n",
                            )
                        }
                        ("GET", "/metrics") => (
                            StatusCode::OK,
                            "text/plain; version=0.0.4; charset=utf-8",
                            metrics.render(),
                        ),
                        ("GET", "/healthz") => (StatusCode::OK, "text/plain", "ok\n".to_owned()),
                        _ => (
                            StatusCode::NOT_FOUND,
                            "text/plain",
                            "not found\n".to_owned(),
                        ),
                    };
                    let mut resp = Response::new(Full::new(Bytes::from(body)));
                    *resp.status_mut() = status;
                    if let Ok(v) = hyper::header::HeaderValue::from_str(ctype) {
                        resp.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
                    }
                    Ok::<_, Infallible>(resp)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_format() {
        let m = Metrics::default();
        m.inc("imeitrack_registrations_total", "outcome", "accepted");
        m.inc("imeitrack_registrations_total", "outcome", "accepted");
        m.inc("imeitrack_keys_issued_total", "source", "local");
        m.inc_plain("imeitrack_pushes_sent_total");
        m.set("imeitrack_smpp_bound", 1);
        let text = m.render();
        assert!(text.contains("# TYPE imeitrack_registrations_total counter\n"));
        assert!(text.contains("imeitrack_registrations_total{outcome=\"accepted\"} 2\n"));
        assert!(text.contains("imeitrack_keys_issued_total{source=\"local\"} 1\n"));
        assert!(text.contains("imeitrack_pushes_sent_total 1\n"));
        assert!(text.contains("imeitrack_smpp_bound 1\n"));
        assert!(text.contains("imeitrack_ledger_entries_total 0\n"));
        assert_eq!(m.get("imeitrack_registrations_total", "accepted"), 2);
    }
}
