//! The operations listener on `metrics.listen`: `GET /metrics` for Prometheus and
//! `GET /health` for a load balancer or a supervisor.
//!
//! A deliberately minimal HTTP/1.1 responder rather than hyper: two fixed GETs whose
//! answers are a few kilobytes, one answer per connection (`Connection: close`, which
//! scrapers and health checkers take as it is). hyper with hyper-util and http-body-util
//! would bring more code than the problem has. What a server must still do, this does:
//! bound the request head's size and the time it may take, and cap the connections
//! served at once, so a client that never finishes its request costs a slot, not the
//! server.

use super::clock;
use super::health::Health;
use super::metrics::{self, Metrics};
use crate::clock::Timestamp;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tracing::warn;

/// The longest request head read; a longer one is refused.
const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request head, and to take the answer.
const CLIENT_TIME: Duration = Duration::from_secs(5);
/// Connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 32;

/// Serves `GET /metrics` and `GET /health` on `listener` for as long as the server runs.
pub(super) async fn serve(listener: TcpListener, metrics: Arc<Metrics>, health: Arc<Health>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, most likely: wait rather than spin.
                warn!(error = %e, "the metrics listener cannot accept");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (metrics, health) = (metrics.clone(), health.clone());
        tokio::spawn(async move {
            answer(stream, &metrics, &health).await;
            drop(slot);
        });
    }
}

/// Reads one request and answers it.
async fn answer(mut stream: TcpStream, metrics: &Metrics, health: &Health) {
    let response = match tokio::time::timeout(CLIENT_TIME, read_head(&mut stream)).await {
        Ok(Some(head)) => respond(&head, metrics, health, clock::now()),
        Ok(None) => Answer::text(400, "bad request").into_bytes(true),
        Err(_) => return,
    };
    let _ = tokio::time::timeout(CLIENT_TIME, stream.write_all(&response)).await;
    let _ = stream.shutdown().await;
}

/// The request head, up to its blank line; `None` if it is too long, not text, or the
/// client closed first.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = find_blank_line(&head) {
            head.truncate(end);
            return String::from_utf8(head).ok();
        }
        if head.len() > MAX_HEAD {
            return None;
        }
    }
}

/// Where the head ends: at the first empty line (CRLF, or a bare LF as RFC 9112 allows).
fn find_blank_line(bytes: &[u8]) -> Option<usize> {
    let crlf = bytes.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = bytes.windows(2).position(|w| w == b"\n\n");
    crlf.into_iter().chain(lf).min()
}

/// The whole response to a request head at `now`.
fn respond(head: &str, metrics: &Metrics, health: &Health, now: Timestamp) -> Vec<u8> {
    let mut words = head.lines().next().unwrap_or_default().split_whitespace();
    let (Some(method), Some(target), Some(version)) = (words.next(), words.next(), words.next())
    else {
        return Answer::text(400, "bad request").into_bytes(true);
    };
    if !version.starts_with("HTTP/1.") {
        return Answer::text(505, "HTTP/1.x only").into_bytes(true);
    }
    let with_body = match method {
        "GET" => true,
        "HEAD" => false,
        _ => return Answer::text(405, "GET or HEAD").into_bytes(true),
    };
    let path = target.split('?').next().unwrap_or_default();
    let answer = match path {
        "/metrics" => match metrics.encode() {
            Ok(text) => Answer {
                status: 200,
                content_type: metrics::CONTENT_TYPE,
                body: text.into_bytes(),
            },
            Err(_) => Answer::text(500, "cannot encode the metrics"),
        },
        "/health" => match health.check(now) {
            Ok(()) => Answer::text(200, "ok"),
            Err(why) => Answer::text(503, why),
        },
        _ => Answer::text(404, "not found"),
    };
    answer.into_bytes(with_body)
}

/// A response before it is written.
struct Answer {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Answer {
    /// A plain-text answer: one line.
    fn text(status: u16, line: &str) -> Answer {
        Answer {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{line}\n").into_bytes(),
        }
    }

    /// The response with its length and `Connection: close`; the body only if
    /// `with_body` (a HEAD gets the headers of the GET).
    fn into_bytes(self, with_body: bool) -> Vec<u8> {
        let (status, reason) = match self.status {
            200 => (200, "OK"),
            400 => (400, "Bad Request"),
            404 => (404, "Not Found"),
            405 => (405, "Method Not Allowed"),
            503 => (503, "Service Unavailable"),
            505 => (505, "HTTP Version Not Supported"),
            _ => (500, "Internal Server Error"),
        };
        let allow = if status == 405 {
            "Allow: GET, HEAD\r\n"
        } else {
            ""
        };
        let mut out = format!(
            "HTTP/1.1 {status} {reason}\r\n{allow}Content-Type: {}\r\nContent-Length: {}\r\n\
             Cache-Control: no-store\r\nConnection: close\r\n\r\n",
            self.content_type,
            self.body.len()
        )
        .into_bytes();
        if with_body {
            out.extend(self.body);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp(1_800_000_000_000);

    fn ask(head: &str, health: &Health) -> String {
        let metrics = Metrics::new(["pin"]);
        String::from_utf8(respond(head, &metrics, health, T0)).unwrap()
    }

    fn serving() -> Health {
        let h = Health::default();
        h.serving(T0);
        h
    }

    #[test]
    fn metrics_come_in_the_prometheus_text_format() {
        let got = ask(
            "GET /metrics HTTP/1.1\r\nHost: pbx\r\nAccept: */*",
            &serving(),
        );
        assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{got}");
        assert!(
            got.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            "{got}"
        );
        let (head, body) = got.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())),
            "{got}"
        );
        assert!(
            body.contains("# TYPE pbxctl_calls_total counter\n"),
            "{body}"
        );
    }

    #[test]
    fn health_is_ok_while_serving_and_503_otherwise() {
        let h = serving();
        let got = ask("GET /health HTTP/1.1\r\n", &h);
        assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{got}");
        assert!(got.ends_with("\r\n\r\nok\n"), "{got}");
        h.draining();
        let got = ask("GET /health?verbose HTTP/1.0\r\n", &h);
        assert!(
            got.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{got}"
        );
        assert!(got.ends_with("\r\n\r\ndraining\n"), "{got}");
    }

    #[test]
    fn anything_else_is_refused_with_the_right_status() {
        let h = serving();
        let cases = [
            ("GET / HTTP/1.1", "404 Not Found"),
            (
                "POST /metrics HTTP/1.1",
                "405 Method Not Allowed\r\nAllow: GET, HEAD",
            ),
            ("GET /metrics SIP/2.0", "505 HTTP Version Not Supported"),
            ("GET", "400 Bad Request"),
            ("", "400 Bad Request"),
        ];
        for (line, status) in cases {
            let got = ask(&format!("{line}\r\n"), &h);
            assert!(
                got.starts_with(&format!("HTTP/1.1 {status}\r\n")),
                "{line}: {got}"
            );
        }
        let head = ask("HEAD /health HTTP/1.1\r\n", &h);
        assert!(
            head.ends_with(
                "Content-Length: 3\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
            ),
            "{head}"
        );
    }

    #[test]
    fn the_head_ends_at_the_first_empty_line() {
        assert_eq!(
            find_blank_line(b"GET / HTTP/1.1\r\nA: b\r\n\r\nbody"),
            Some(20)
        );
        assert_eq!(find_blank_line(b"GET / HTTP/1.1\n\n"), Some(14));
        assert_eq!(find_blank_line(b"GET / HTTP/1.1\r\n"), None);
    }
}
