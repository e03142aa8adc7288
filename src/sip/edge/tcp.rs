//! SIP over TCP: accepting connections within the caps, framing what they send for
//! the switch, and writing the switch's answers back, each within its limits.
//!
//! A connection is closed when it sends something that is not SIP (after what came
//! before it is answered), leaves a message unfinished for `message_timeout` (a new
//! connection: its first message), stays silent for `idle`, or does not read what it
//! is sent: a queue over `write_queue` bytes, or a write stalled for `message_timeout`.

use super::ToSwitch;
use crate::clock::Duration;
use crate::directory::config::TcpLimits;
use crate::sip::log_budget::LogBudget;
use crate::sip::message::{frame_length, leading_keepalive};
use crate::sip::switch::Input;
use crate::sip::tcp_admission::{Refusal, TcpAdmission};
use crate::sip::transaction::{Peer, Transport};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;
use tracing::{info, warn};

/// The most a connection may buffer of one unfinished message.
const MAX_UNFRAMED: usize = 65_536;
/// Messages of one connection that may wait for the switch; then the reader stops
/// reading and TCP's flow control holds the client back.
const IN_FLIGHT: usize = 32;

/// One connection's way out.
struct Link {
    /// Tells this connection from an earlier one on the same address.
    id: u64,
    tx: mpsc::UnboundedSender<Vec<u8>>,
    /// Bytes handed to the writer and not yet written.
    queued: Arc<AtomicUsize>,
    /// Set to close the connection at once, unread and unwritten bytes dropped.
    close: Arc<watch::Sender<bool>>,
}

/// The open connections, by peer address; shared by the acceptor and the switch thread.
#[derive(Clone)]
pub(super) struct Links {
    links: Arc<Mutex<HashMap<SocketAddr, Link>>>,
    write_queue: usize,
    budget: Arc<Mutex<LogBudget>>,
}

impl Links {
    pub(super) fn new(write_queue: usize, budget: Arc<Mutex<LogBudget>>) -> Links {
        Links {
            links: Arc::default(),
            write_queue,
            budget,
        }
    }

    fn log(&self, kind: &'static str) -> bool {
        self.budget
            .lock()
            .expect("log budget lock")
            .admit(super::clock::now(), kind)
    }

    /// Queues bytes to `addr`; a peer that lets more than `write_queue` bytes pile up
    /// is disconnected.
    pub(super) fn send(&self, addr: SocketAddr, bytes: Vec<u8>) {
        let mut links = self.links.lock().expect("links lock");
        let Some(link) = links.get(&addr) else {
            drop(links);
            if self.log("tcp-gone") {
                info!(peer = %addr, "the TCP connection is gone; not sent");
            }
            return;
        };
        let queued = link.queued.fetch_add(bytes.len(), Ordering::SeqCst) + bytes.len();
        if queued > self.write_queue {
            let link = links.remove(&addr).expect("just found");
            drop(links);
            let _ = link.close.send(true);
            if self.log("tcp-write-queue") {
                warn!(peer = %addr, queued, limit = self.write_queue, "a TCP client does not read what it is sent; disconnected");
            }
            return;
        }
        let _ = link.tx.send(bytes);
    }

    /// The reader of connection `id` has ended: once what is queued is written, close.
    pub(super) fn finished(&self, addr: SocketAddr, id: u64) {
        let mut links = self.links.lock().expect("links lock");
        if links.get(&addr).is_some_and(|l| l.id == id) {
            links.remove(&addr);
        }
    }
}

/// A connection counted against the caps; dropped by the last of its two tasks.
struct Admitted {
    addr: SocketAddr,
    admission: Arc<Mutex<TcpAdmission>>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.admission
            .lock()
            .expect("admission lock")
            .release(self.addr.ip());
    }
}

/// Accepts connections for as long as the server runs.
pub(super) async fn accept(
    listener: TcpListener,
    to_switch: std_mpsc::Sender<ToSwitch>,
    links: Links,
    limits: TcpLimits,
) {
    let admission = Arc::new(Mutex::new(TcpAdmission::new(
        limits.max_connections,
        limits.per_source,
    )));
    let next_id = AtomicU64::new(0);
    loop {
        let Ok((stream, addr)) = listener.accept().await else {
            // Out of file descriptors, most likely: back off rather than spin.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let admitted = admission.lock().expect("admission lock").admit(addr.ip());
        if let Err(refusal) = admitted {
            let (kind, limit, what) = match refusal {
                Refusal::Total => ("tcp-cap", limits.max_connections, "in all"),
                Refusal::PerSource => ("tcp-source-cap", limits.per_source, "from one source"),
            };
            if links.log(kind) {
                warn!(peer = %addr, limit, "TCP connection refused: the cap on connections {what} is reached");
            }
            drop(stream);
            continue;
        }
        let admitted = Arc::new(Admitted {
            addr,
            admission: admission.clone(),
        });
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let (reader, writer) = stream.into_split();
        let (tx, rx) = mpsc::unbounded_channel();
        let (close, closed) = watch::channel(false);
        let close = Arc::new(close);
        let queued = Arc::new(AtomicUsize::new(0));
        links.links.lock().expect("links lock").insert(
            addr,
            Link {
                id,
                tx,
                queued: queued.clone(),
                close: close.clone(),
            },
        );
        tokio::spawn(write(
            writer,
            rx,
            queued,
            (close, closed.clone()),
            Stalled {
                addr,
                limit: limits.message_timeout,
                links: links.clone(),
            },
            admitted.clone(),
        ));
        tokio::spawn(read(
            reader,
            Connection {
                addr,
                id,
                to_switch: to_switch.clone(),
                links: links.clone(),
                limits: limits.clone(),
                _admitted: admitted,
            },
            closed,
        ));
    }
}

/// How long a write may stall before its client counts as not reading, and whom to tell.
struct Stalled {
    addr: SocketAddr,
    limit: Duration,
    links: Links,
}

async fn write(
    mut writer: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    queued: Arc<AtomicUsize>,
    (close, mut closed): (Arc<watch::Sender<bool>>, watch::Receiver<bool>),
    stalled: Stalled,
    _admitted: Arc<Admitted>,
) {
    let limit = std_duration(stalled.limit);
    loop {
        // `Ok(_)`: a dropped sender (the link forgotten) is no reason to stop writing.
        let bytes = tokio::select! {
            bytes = rx.recv() => match bytes {
                Some(b) => b,
                None => break,
            },
            Ok(_) = closed.wait_for(|c| *c) => return,
        };
        let written = tokio::select! {
            w = tokio::time::timeout(limit, writer.write_all(&bytes)) => w,
            Ok(_) = closed.wait_for(|c| *c) => return,
        };
        queued.fetch_sub(bytes.len(), Ordering::SeqCst);
        match written {
            Ok(Ok(())) => {}
            Ok(Err(_)) => break,
            Err(_) => {
                let _ = close.send(true);
                if stalled.links.log("tcp-write-stall") {
                    warn!(peer = %stalled.addr, stalled_ms = stalled.limit.0, "a TCP client does not read what it is sent; disconnected");
                }
                return;
            }
        }
    }
    let _ = writer.shutdown().await;
}

/// What a connection's reader needs besides its socket.
struct Connection {
    addr: SocketAddr,
    id: u64,
    to_switch: std_mpsc::Sender<ToSwitch>,
    links: Links,
    limits: TcpLimits,
    _admitted: Arc<Admitted>,
}

/// Why a reader stopped early.
enum Cut {
    Idle,
    Unfinished,
}

async fn read(mut reader: OwnedReadHalf, conn: Connection, mut closed: watch::Receiver<bool>) {
    let peer = Peer {
        transport: Transport::Tcp,
        addr: conn.addr,
    };
    let message_timeout = std_duration(conn.limits.message_timeout);
    let idle = std_duration(conn.limits.idle);
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16_384];
    // A new connection owes its first message within the message timeout.
    let mut message_started = Some(Instant::now());
    let mut last_heard = Instant::now();
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    let cut = 'read: loop {
        let deadline = match message_started {
            Some(t) => t + message_timeout,
            None => last_heard + idle,
        };
        let n = tokio::select! {
            r = tokio::time::timeout_at(deadline, reader.read(&mut chunk)) => match r {
                Ok(Ok(0)) | Ok(Err(_)) => break None,
                Ok(Ok(n)) => n,
                Err(_) if message_started.is_some() => break Some(Cut::Unfinished),
                Err(_) => break Some(Cut::Idle),
            },
            Ok(_) = closed.wait_for(|c| *c) => break None,
        };
        last_heard = Instant::now();
        buf.extend_from_slice(&chunk[..n]);
        loop {
            let keepalive = leading_keepalive(&buf);
            if keepalive == buf.len() {
                // CRLF keep-alives (RFC 5626 §4.4.1): a double CRLF gets a CRLF back.
                if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    conn.links.send(conn.addr, b"\r\n".to_vec());
                }
                buf.clear();
                message_started = None;
                break;
            }
            if message_started.is_none() {
                message_started = Some(Instant::now());
            }
            match frame_length(&buf) {
                Ok(Some(len)) => {
                    let bytes: Vec<u8> = buf.drain(..len).collect();
                    if !deliver(&conn, peer, bytes, &in_flight, &mut closed).await {
                        break 'read None;
                    }
                    message_started = None;
                }
                Ok(None) if buf.len() > MAX_UNFRAMED => break 'read None,
                Ok(None) => break,
                Err(_) => {
                    // Not SIP: the switch answers it if it can say where to, then the
                    // stream, out of step, is closed. What came before is answered first.
                    let rest = std::mem::take(&mut buf);
                    deliver(&conn, peer, rest, &in_flight, &mut closed).await;
                    break 'read None;
                }
            }
        }
    };
    if let Some(cut) = cut {
        let (kind, why) = match cut {
            Cut::Idle => ("tcp-idle", "silent for the idle limit"),
            Cut::Unfinished => (
                "tcp-unfinished",
                "a message unfinished for the message timeout",
            ),
        };
        if conn.links.log(kind) {
            info!(peer = %conn.addr, "TCP connection closed: {why}");
        }
    }
    // Through the switch's own queue, so it comes after every message framed above.
    let _ = conn.to_switch.send(ToSwitch::TcpClosed {
        addr: conn.addr,
        id: conn.id,
    });
}

/// Hands a framed message to the switch once the connection has room in flight;
/// `false` if the connection was closed meanwhile or the switch is gone.
async fn deliver(
    conn: &Connection,
    from: Peer,
    bytes: Vec<u8>,
    in_flight: &Arc<Semaphore>,
    closed: &mut watch::Receiver<bool>,
) -> bool {
    let permit = tokio::select! {
        p = in_flight.clone().acquire_owned() => match p {
            Ok(p) => p,
            Err(_) => return false,
        },
        Ok(_) = closed.wait_for(|c| *c) => return false,
    };
    conn.to_switch
        .send(ToSwitch::Received(Input::Received { from, bytes }, permit))
        .is_ok()
}

fn std_duration(d: Duration) -> std::time::Duration {
    std::time::Duration::from_millis(u64::try_from(d.0).unwrap_or(0))
}
