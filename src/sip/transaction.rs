//! The transaction layer of RFC 3261 section 17, sans-IO.
//!
//! Messages come in with [`Transactions::receive`]; what the transaction user (the
//! switch) must act on comes out of [`Transactions::poll_delivery`], bytes to send out of
//! [`Transactions::poll_transmit`]. Time is passed in, so timers A to K are exercised
//! on a virtual clock. The 2xx to an INVITE is retransmitted here until its ACK arrives
//! (the "Accepted" state of RFC 6026), so the switch never runs a timer of its own for it.

use super::message::{Message, Method, Request, Response};
use crate::clock::{Duration, Timestamp};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;

/// RTT estimate (T1).
pub const T1: Duration = Duration(500);
/// Longest retransmit interval for non-INVITE requests and INVITE responses (T2).
pub const T2: Duration = Duration(4_000);
/// Longest time a message stays in the network (T4).
pub const T4: Duration = Duration(5_000);

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP: the transaction layer retransmits.
    Udp,
    /// TCP: reliable, so no retransmissions and no lingering states.
    Tcp,
}

impl Transport {
    /// The token used in `Via`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

/// The other end of a message: transport and address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Transport.
    pub transport: Transport,
    /// Address.
    pub addr: SocketAddr,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.transport.as_str())
    }
}

/// Bytes to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where.
    pub to: Peer,
    /// The encoded message.
    pub bytes: Vec<u8>,
}

/// Identifies a server transaction (RFC 3261 section 17.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerKey {
    branch: String,
    sent_by: String,
    method: String,
}

/// Identifies a client transaction (RFC 3261 section 17.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey {
    branch: String,
    method: String,
}

/// What the transaction user must act on.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// A new request (not a retransmission).
    Request {
        /// Its server transaction; answer with [`Transactions::respond`].
        key: ServerKey,
        /// Who sent it.
        from: Peer,
        /// The request.
        request: Request,
    },
    /// An ACK to a 2xx (a request of its own, outside any transaction).
    Ack {
        /// Who sent it.
        from: Peer,
        /// The ACK.
        request: Request,
    },
    /// A response to one of our requests.
    Response {
        /// Its client transaction.
        key: ClientKey,
        /// The response.
        response: Response,
    },
    /// A client transaction got no final response in time (timer B or F).
    Timeout {
        /// The transaction.
        key: ClientKey,
    },
    /// A failure response was never acknowledged (timer H); the dialog is dead.
    AckTimeout {
        /// The INVITE's server transaction.
        key: ServerKey,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerState {
    Trying,
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
}

struct ServerTx {
    peer: Peer,
    invite: bool,
    state: ServerState,
    /// Call-ID and CSeq number, to match the ACK of a 2xx (which has a branch of its own).
    dialog_match: (String, u32),
    last_response: Option<Vec<u8>>,
    retransmit_at: Option<Timestamp>,
    interval: Duration,
    end_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientState {
    Calling,
    Proceeding,
    Completed,
    Accepted,
}

struct ClientTx {
    peer: Peer,
    request: Request,
    bytes: Vec<u8>,
    state: ClientState,
    ack: Option<Vec<u8>>,
    retransmit_at: Option<Timestamp>,
    interval: Duration,
    end_at: Option<Timestamp>,
}

/// All live transactions.
#[derive(Default)]
pub struct Transactions {
    servers: HashMap<ServerKey, ServerTx>,
    clients: HashMap<ClientKey, ClientTx>,
    deliveries: VecDeque<Delivery>,
    transmits: VecDeque<Transmit>,
    /// Timer wake-ups, earliest first. An entry may be stale (its transaction moved on
    /// or ended); firing checks the transaction's own deadlines, so a stale entry costs
    /// one look-up. Under load thousands of transactions linger in their timers, and a
    /// scan of all of them per message is what made answers late.
    timers: BinaryHeap<Reverse<(Timestamp, u64)>>,
    timer_refs: HashMap<u64, TxRef>,
    next_timer: u64,
    /// INVITE transactions whose 2xx awaits its ACK, by Call-ID and CSeq number: the ACK
    /// has a branch of its own, so this is how it finds them.
    accepted: HashMap<(String, u32), ServerKey>,
}

/// Which transaction a timer belongs to.
#[derive(Debug, Clone)]
enum TxRef {
    Server(ServerKey),
    Client(ClientKey),
}

fn reliable(peer: &Peer) -> bool {
    peer.transport == Transport::Tcp
}

/// `64*T1`: how long a transaction may take at most.
fn timeout_64t1() -> Duration {
    Duration(64 * T1.0)
}

fn doubled(d: Duration, cap: Duration) -> Duration {
    Duration((d.0 * 2).min(cap.0))
}

impl Transactions {
    /// An empty layer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of live transactions (server and client).
    pub fn len(&self) -> usize {
        self.servers.len() + self.clients.len()
    }

    /// Whether no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes in a parsed message from `from`.
    pub fn receive(&mut self, now: Timestamp, from: Peer, message: Message) {
        match message {
            Message::Request(mut r) => {
                r.headers.stamp_top_via(from.addr);
                self.receive_request(now, from, r);
            }
            Message::Response(r) => self.receive_response(now, r),
        }
    }

    /// The server transaction key of a request, if it has the headers that make one.
    pub fn server_key(request: &Request) -> Option<ServerKey> {
        let via = request.top_via()?;
        let method = match request.method {
            Method::Ack => Method::Invite,
            ref m => m.clone(),
        };
        let branch = match via.branch {
            Some(b) if b.starts_with("z9hG4bK") => b,
            // RFC 2543 peers: no magic cookie, so match on the dialog and request identity.
            _ => {
                let cseq = request.cseq()?;
                let from_tag = request.from().and_then(|f| f.tag().map(str::to_owned));
                format!(
                    "2543:{}:{}:{}:{}",
                    request.call_id()?,
                    cseq.seq,
                    from_tag.unwrap_or_default(),
                    via.raw
                )
            }
        };
        let sent_by = match via.port {
            Some(p) => format!("{}:{p}", via.host.to_ascii_lowercase()),
            None => via.host.to_ascii_lowercase(),
        };
        Some(ServerKey {
            branch,
            sent_by,
            method: method.as_str().to_owned(),
        })
    }

    /// The INVITE server transaction a CANCEL refers to (same branch, method INVITE).
    pub fn invite_for_cancel(&self, cancel: &Request) -> Option<ServerKey> {
        let mut key = Self::server_key(cancel)?;
        key.method = Method::Invite.as_str().to_owned();
        self.servers.contains_key(&key).then_some(key)
    }

    fn receive_request(&mut self, now: Timestamp, from: Peer, request: Request) {
        let Some(key) = Self::server_key(&request) else {
            return;
        };
        if request.method == Method::Ack {
            self.receive_ack(now, from, key, request);
            return;
        }
        if let Some(tx) = self.servers.get_mut(&key) {
            // A retransmission: answer with the last response, if any.
            if let Some(bytes) = &tx.last_response
                && tx.state != ServerState::Trying
            {
                self.transmits.push_back(Transmit {
                    to: tx.peer,
                    bytes: bytes.clone(),
                });
            }
            return;
        }
        let invite = request.method == Method::Invite;
        let dialog_match = (
            request.call_id().unwrap_or_default().to_owned(),
            request.cseq().map(|c| c.seq).unwrap_or(0),
        );
        let mut tx = ServerTx {
            peer: from,
            invite,
            state: if invite {
                ServerState::Proceeding
            } else {
                ServerState::Trying
            },
            dialog_match,
            last_response: None,
            retransmit_at: None,
            interval: T1,
            end_at: None,
        };
        if invite {
            // Sent at once rather than within 200 ms: it stops the caller's timer A.
            let trying = super::message::response_to(&request, 100, "Trying", None).to_bytes();
            tx.last_response = Some(trying.clone());
            self.transmits.push_back(Transmit {
                to: from,
                bytes: trying,
            });
        }
        self.servers.insert(key.clone(), tx);
        self.deliveries
            .push_back(Delivery::Request { key, from, request });
    }

    fn receive_ack(&mut self, now: Timestamp, from: Peer, key: ServerKey, request: Request) {
        if let Some(tx) = self.servers.get_mut(&key)
            && tx.state == ServerState::Completed
        {
            // The ACK of a failure response: absorb it, linger for timer I.
            tx.state = ServerState::Confirmed;
            tx.retransmit_at = None;
            tx.end_at = Some(if reliable(&tx.peer) {
                now
            } else {
                now.after(T4)
            });
            self.arm(TxRef::Server(key));
            return;
        }
        if self
            .servers
            .get(&key)
            .is_some_and(|t| t.state == ServerState::Confirmed)
        {
            return;
        }
        // The ACK of a 2xx: stop retransmitting that 2xx, hand the ACK up.
        let dialog = (
            request.call_id().unwrap_or_default().to_owned(),
            request.cseq().map(|c| c.seq).unwrap_or(0),
        );
        if let Some(tx) = self
            .accepted
            .get(&dialog)
            .and_then(|k| self.servers.get_mut(k))
        {
            tx.retransmit_at = None;
        }
        self.deliveries.push_back(Delivery::Ack { from, request });
    }

    /// Sends `response` on server transaction `key` (a no-op if it has ended).
    pub fn respond(&mut self, now: Timestamp, key: &ServerKey, response: Response) {
        let Some(tx) = self.servers.get_mut(key) else {
            return;
        };
        if matches!(
            tx.state,
            ServerState::Completed | ServerState::Confirmed | ServerState::Accepted
        ) {
            return;
        }
        let bytes = response.to_bytes();
        self.transmits.push_back(Transmit {
            to: tx.peer,
            bytes: bytes.clone(),
        });
        tx.last_response = Some(bytes);
        let udp = !reliable(&tx.peer);
        match (response.status, tx.invite) {
            (100..=199, _) => tx.state = ServerState::Proceeding,
            (200..=299, true) => {
                self.accepted.insert(tx.dialog_match.clone(), key.clone());
                tx.state = ServerState::Accepted;
                tx.interval = T1;
                tx.retransmit_at = udp.then(|| now.after(T1));
                tx.end_at = Some(now.after(timeout_64t1()));
            }
            (_, true) => {
                tx.state = ServerState::Completed;
                tx.interval = T1;
                tx.retransmit_at = udp.then(|| now.after(T1));
                tx.end_at = Some(now.after(timeout_64t1()));
            }
            (_, false) => {
                tx.state = ServerState::Completed;
                tx.end_at = Some(if udp { now.after(timeout_64t1()) } else { now });
            }
        }
        self.arm(TxRef::Server(key.clone()));
    }

    /// Sends a request outside any transaction: the ACK of a 2xx (RFC 3261 section
    /// 13.2.2.4), in order with the transactions' own messages.
    pub fn send_stateless(&mut self, to: Peer, request: &Request) {
        self.transmits.push_back(Transmit {
            to,
            bytes: request.to_bytes(),
        });
    }

    /// Starts a client transaction sending `request` to `to`; the request must carry a
    /// `Via` with a fresh `z9hG4bK` branch.
    pub fn request(&mut self, now: Timestamp, to: Peer, request: Request) -> Option<ClientKey> {
        let branch = request.top_via()?.branch?;
        let key = ClientKey {
            branch,
            method: request.method.as_str().to_owned(),
        };
        let bytes = request.to_bytes();
        let udp = !reliable(&to);
        self.transmits.push_back(Transmit {
            to,
            bytes: bytes.clone(),
        });
        self.clients.insert(
            key.clone(),
            ClientTx {
                peer: to,
                request,
                bytes,
                state: ClientState::Calling,
                ack: None,
                retransmit_at: udp.then(|| now.after(T1)),
                interval: T1,
                end_at: Some(now.after(timeout_64t1())),
            },
        );
        self.arm(TxRef::Client(key.clone()));
        Some(key)
    }

    fn receive_response(&mut self, now: Timestamp, response: Response) {
        let Some(via) = response.top_via() else {
            return;
        };
        let (Some(branch), Some(cseq)) = (via.branch, response.cseq()) else {
            return;
        };
        let key = ClientKey {
            branch,
            method: cseq.method.as_str().to_owned(),
        };
        let Some(tx) = self.clients.get_mut(&key) else {
            return;
        };
        let invite = tx.request.method == Method::Invite;
        let udp = !reliable(&tx.peer);
        match (response.status, tx.state) {
            (100..=199, ClientState::Calling | ClientState::Proceeding) => {
                tx.state = ClientState::Proceeding;
                if invite {
                    tx.retransmit_at = None;
                } else if udp {
                    tx.interval = T2;
                }
            }
            (200..=299, ClientState::Calling | ClientState::Proceeding) if invite => {
                // RFC 6026: linger, so a retransmitted 2xx still reaches the TU to re-ACK.
                tx.state = ClientState::Accepted;
                tx.retransmit_at = None;
                tx.end_at = Some(now.after(timeout_64t1()));
            }
            (200..=299, ClientState::Accepted) => {}
            (_, ClientState::Calling | ClientState::Proceeding) => {
                tx.state = ClientState::Completed;
                tx.retransmit_at = None;
                if invite {
                    let ack = ack_for(&tx.request, &response).to_bytes();
                    self.transmits.push_back(Transmit {
                        to: tx.peer,
                        bytes: ack.clone(),
                    });
                    tx.ack = Some(ack);
                    tx.end_at = Some(if udp {
                        now.after(Duration(32_000))
                    } else {
                        now
                    });
                } else {
                    tx.end_at = Some(if udp { now.after(T4) } else { now });
                }
            }
            (_, ClientState::Completed) => {
                // A retransmitted final response: re-send our ACK, tell nobody.
                if let Some(ack) = &tx.ack {
                    self.transmits.push_back(Transmit {
                        to: tx.peer,
                        bytes: ack.clone(),
                    });
                }
                return;
            }
            _ => return,
        }
        self.arm(TxRef::Client(key.clone()));
        self.deliveries
            .push_back(Delivery::Response { key, response });
    }

    /// The next thing the transaction user must act on.
    pub fn poll_delivery(&mut self) -> Option<Delivery> {
        self.deliveries.pop_front()
    }

    /// The next bytes to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The earliest timer.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// Schedules a wake-up at the transaction's next deadline, if it has one.
    fn arm(&mut self, r: TxRef) {
        let due = match &r {
            TxRef::Server(k) => self.servers.get(k).map(|t| [t.retransmit_at, t.end_at]),
            TxRef::Client(k) => self.clients.get(k).map(|t| [t.retransmit_at, t.end_at]),
        };
        if let Some(at) = due.into_iter().flatten().flatten().min() {
            let id = self.next_timer;
            self.next_timer += 1;
            self.timers.push(Reverse((at, id)));
            self.timer_refs.insert(id, r);
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        while let Some(Reverse((at, id))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            match self.timer_refs.remove(&id) {
                Some(TxRef::Server(key)) => self.fire_server(now, key),
                Some(TxRef::Client(key)) => self.fire_client(now, key),
                None => {}
            }
        }
    }

    fn fire_server(&mut self, now: Timestamp, key: ServerKey) {
        let Some(tx) = self.servers.get_mut(&key) else {
            return;
        };
        if tx.end_at.is_some_and(|t| t <= now) {
            if tx.state == ServerState::Completed && tx.invite {
                // Timer H: the failure response was never acknowledged.
                self.deliveries
                    .push_back(Delivery::AckTimeout { key: key.clone() });
            }
            if tx.state == ServerState::Accepted {
                self.accepted.remove(&tx.dialog_match);
            }
            self.servers.remove(&key);
            return;
        }
        if let Some(at) = tx.retransmit_at
            && at <= now
        {
            // Timers G (failure) and the 2xx retransmission share the T1..T2 backoff.
            if let Some(bytes) = &tx.last_response {
                self.transmits.push_back(Transmit {
                    to: tx.peer,
                    bytes: bytes.clone(),
                });
            }
            tx.interval = doubled(tx.interval, T2);
            tx.retransmit_at = Some(now.after(tx.interval));
        }
        self.arm(TxRef::Server(key));
    }

    fn fire_client(&mut self, now: Timestamp, key: ClientKey) {
        let Some(tx) = self.clients.get_mut(&key) else {
            return;
        };
        if tx.end_at.is_some_and(|t| t <= now) {
            if matches!(tx.state, ClientState::Calling | ClientState::Proceeding) {
                self.deliveries
                    .push_back(Delivery::Timeout { key: key.clone() });
            }
            self.clients.remove(&key);
            return;
        }
        if let Some(at) = tx.retransmit_at
            && at <= now
        {
            self.transmits.push_back(Transmit {
                to: tx.peer,
                bytes: tx.bytes.clone(),
            });
            // Timer A doubles without a cap; timer E caps at T2.
            tx.interval = if tx.request.method == Method::Invite {
                Duration(tx.interval.0 * 2)
            } else {
                doubled(tx.interval, T2)
            };
            tx.retransmit_at = Some(now.after(tx.interval));
        }
        self.arm(TxRef::Client(key));
    }
}

/// The ACK for a non-2xx final response (RFC 3261 section 17.1.1.3).
fn ack_for(invite: &Request, response: &Response) -> Request {
    let mut headers = super::message::Headers::default();
    if let Some(via) = invite.headers.get("Via") {
        headers.push("Via", via);
    }
    for name in ["Route", "From"] {
        for v in invite.headers.all(name) {
            headers.push(name, v);
        }
    }
    if let Some(to) = response.headers.get("To") {
        headers.push("To", to);
    }
    if let Some(id) = invite.headers.get("Call-ID") {
        headers.push("Call-ID", id);
    }
    let seq = invite.cseq().map(|c| c.seq).unwrap_or(1);
    headers.push("CSeq", format!("{seq} ACK"));
    headers.push("Max-Forwards", "70");
    Request {
        method: Method::Ack,
        uri: invite.uri.clone(),
        headers,
        body: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::parse;

    fn udp() -> Peer {
        Peer {
            transport: Transport::Udp,
            addr: "127.0.0.1:5070".parse().unwrap(),
        }
    }

    fn tcp() -> Peer {
        Peer {
            transport: Transport::Tcp,
            ..udp()
        }
    }

    fn request(method: &str, branch: &str) -> Request {
        let text = format!(
            "{method} sip:100@pbx.local SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\r\n\
             From: <sip:101@pbx.local>;tag=a\r\nTo: <sip:100@pbx.local>\r\nCall-ID: c1\r\n\
             CSeq: 1 {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        match parse(text.as_bytes()).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => unreachable!(),
        }
    }

    /// The peer sends a request.
    fn send(t: &mut Transactions, ms: i64, peer: Peer, method: &str, branch: &str) {
        t.receive(at(ms), peer, Message::Request(request(method, branch)));
    }

    /// The request the layer hands up next, with its transaction.
    fn delivered(t: &mut Transactions) -> (ServerKey, Request) {
        match t.poll_delivery() {
            Some(Delivery::Request { key, request, .. }) => (key, request),
            other => panic!("a request is delivered, not {other:?}"),
        }
    }

    /// The transaction user answers `request` with `status`.
    fn answer(t: &mut Transactions, ms: i64, key: &ServerKey, request: &Request, status: u16) {
        let reason = crate::sip::message::reason_phrase(status);
        let to_tag = (status > 100).then_some("x");
        t.respond(
            at(ms),
            key,
            crate::sip::message::response_to(request, status, reason, to_tag),
        );
    }

    fn statuses(t: &mut Transactions) -> Vec<String> {
        std::iter::from_fn(|| t.poll_transmit())
            .map(|x| {
                let text = String::from_utf8_lossy(&x.bytes).into_owned();
                text.lines().next().unwrap_or_default().to_owned()
            })
            .collect()
    }

    fn at(ms: i64) -> Timestamp {
        Timestamp(1_000_000 + ms)
    }

    /// Runs the layer's timers from `from` to `to` in 10 ms steps.
    fn run(t: &mut Transactions, from: i64, to: i64) {
        let mut now = from;
        while now <= to {
            if t.next_deadline().is_some_and(|d| d <= at(now)) {
                t.handle_timeout(at(now));
            }
            now += 10;
        }
    }

    #[test]
    fn an_invite_gets_100_at_once_and_retransmissions_get_the_last_response() {
        let mut t = Transactions::new();
        send(&mut t, 0, udp(), "INVITE", "z9hG4bKa");
        assert_eq!(statuses(&mut t), ["SIP/2.0 100 Trying"]);
        let (key, inv) = delivered(&mut t);
        send(&mut t, 100, udp(), "INVITE", "z9hG4bKa");
        assert_eq!(statuses(&mut t), ["SIP/2.0 100 Trying"]);
        assert!(t.poll_delivery().is_none(), "a retransmission is absorbed");
        answer(&mut t, 200, &key, &inv, 180);
        send(&mut t, 300, udp(), "INVITE", "z9hG4bKa");
        assert_eq!(
            statuses(&mut t),
            ["SIP/2.0 180 Ringing", "SIP/2.0 180 Ringing"]
        );
    }

    #[test]
    fn a_failure_response_is_retransmitted_on_timer_g_until_acked() {
        let mut t = Transactions::new();
        send(&mut t, 0, udp(), "INVITE", "z9hG4bKb");
        let (key, inv) = delivered(&mut t);
        statuses(&mut t);
        answer(&mut t, 0, &key, &inv, 486);
        assert_eq!(statuses(&mut t).len(), 1);
        // G fires at 500, 1500 (doubled), 3500.
        run(&mut t, 10, 3_600);
        assert_eq!(statuses(&mut t).len(), 3);
        send(&mut t, 3_700, udp(), "ACK", "z9hG4bKb");
        assert!(
            t.poll_delivery().is_none(),
            "the ACK of a failure is absorbed"
        );
        run(&mut t, 3_710, 20_000);
        assert!(
            statuses(&mut t).is_empty(),
            "no retransmission after the ACK"
        );
        assert!(t.is_empty(), "timer I ended the transaction");
    }

    #[test]
    fn timer_h_reports_a_failure_never_acked() {
        let mut t = Transactions::new();
        send(&mut t, 0, udp(), "INVITE", "z9hG4bKc");
        let (key, inv) = delivered(&mut t);
        answer(&mut t, 0, &key, &inv, 403);
        run(&mut t, 10, 31_990);
        assert!(t.poll_delivery().is_none());
        run(&mut t, 32_000, 32_000);
        assert!(matches!(
            t.poll_delivery(),
            Some(Delivery::AckTimeout { .. })
        ));
        assert!(t.is_empty());
    }

    #[test]
    fn a_2xx_is_retransmitted_until_its_ack_arrives() {
        let mut t = Transactions::new();
        send(&mut t, 0, udp(), "INVITE", "z9hG4bKd");
        let (key, inv) = delivered(&mut t);
        statuses(&mut t);
        answer(&mut t, 0, &key, &inv, 200);
        run(&mut t, 10, 1_600);
        assert_eq!(statuses(&mut t).len(), 3, "sent, then at 500 and 1500");
        // The ACK of a 2xx carries a new branch.
        send(&mut t, 1_700, udp(), "ACK", "z9hG4bKother");
        assert!(matches!(t.poll_delivery(), Some(Delivery::Ack { .. })));
        run(&mut t, 1_710, 40_000);
        assert_eq!(statuses(&mut t).len(), 0);
        assert!(t.is_empty(), "timer L ended it");
    }

    #[test]
    fn over_tcp_nothing_is_retransmitted_and_nothing_lingers() {
        let mut t = Transactions::new();
        send(&mut t, 0, tcp(), "OPTIONS", "z9hG4bKe");
        let (key, r) = delivered(&mut t);
        answer(&mut t, 0, &key, &r, 200);
        assert_eq!(statuses(&mut t), ["SIP/2.0 200 OK"]);
        run(&mut t, 0, 0);
        assert!(t.is_empty(), "timer J is zero over TCP");
    }

    #[test]
    fn a_non_invite_server_transaction_answers_retransmissions_until_timer_j() {
        let mut t = Transactions::new();
        send(&mut t, 0, udp(), "BYE", "z9hG4bKf");
        assert!(statuses(&mut t).is_empty(), "no 100 for a non-INVITE");
        let (key, r) = delivered(&mut t);
        send(&mut t, 100, udp(), "BYE", "z9hG4bKf");
        assert!(
            statuses(&mut t).is_empty(),
            "Trying absorbs retransmissions"
        );
        answer(&mut t, 200, &key, &r, 200);
        send(&mut t, 900, udp(), "BYE", "z9hG4bKf");
        assert_eq!(statuses(&mut t), ["SIP/2.0 200 OK", "SIP/2.0 200 OK"]);
        run(&mut t, 210, 32_190);
        assert!(!t.is_empty());
        run(&mut t, 32_200, 32_200);
        assert!(t.is_empty());
    }

    #[test]
    fn a_client_non_invite_retransmits_on_timer_e_and_times_out_on_f() {
        let mut t = Transactions::new();
        let key = t.request(at(0), udp(), request("BYE", "z9hG4bKg")).unwrap();
        assert_eq!(statuses(&mut t).len(), 1);
        // E: 500, 1500, 3500, 7500, then every 4 s up to 32 s: 11.5 .. 31.5 (6 more).
        run(&mut t, 10, 31_990);
        assert_eq!(statuses(&mut t).len(), 10);
        run(&mut t, 32_000, 32_000);
        assert!(matches!(t.poll_delivery(), Some(Delivery::Timeout { key: k }) if k == key));
    }

    #[test]
    fn a_client_non_invite_delivers_its_final_response_once() {
        let mut t = Transactions::new();
        let key = t.request(at(0), udp(), request("BYE", "z9hG4bKh")).unwrap();
        let ok = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKh\r\n\
                   From: <sip:101@pbx.local>;tag=a\r\nTo: <sip:100@pbx.local>;tag=b\r\n\
                   Call-ID: c1\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n";
        t.receive(at(50), udp(), parse(ok).unwrap());
        t.receive(at(60), udp(), parse(ok).unwrap());
        assert!(matches!(t.poll_delivery(), Some(Delivery::Response { key: k, .. }) if k == key));
        assert!(t.poll_delivery().is_none());
        run(&mut t, 70, 5_060);
        assert!(t.is_empty(), "timer K");
    }

    #[test]
    fn a_client_invite_acks_a_failure_itself() {
        let mut t = Transactions::new();
        t.request(at(0), udp(), request("INVITE", "z9hG4bKi"))
            .unwrap();
        run(&mut t, 10, 1_600);
        assert_eq!(statuses(&mut t).len(), 3, "timer A: 0, 500, 1500");
        let busy = b"SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKi\r\n\
                     From: <sip:101@pbx.local>;tag=a\r\nTo: <sip:100@pbx.local>;tag=b\r\n\
                     Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
        t.receive(at(1_700), udp(), parse(busy).unwrap());
        let sent = statuses(&mut t);
        assert_eq!(sent, ["ACK sip:100@pbx.local SIP/2.0"]);
        assert!(
            matches!(t.poll_delivery(), Some(Delivery::Response { response, .. }) if response.status == 486)
        );
        t.receive(at(1_800), udp(), parse(busy).unwrap());
        assert_eq!(statuses(&mut t).len(), 1, "the ACK is re-sent");
        assert!(t.poll_delivery().is_none());
    }

    #[test]
    fn timer_b_ends_an_unanswered_client_invite() {
        let mut t = Transactions::new();
        t.request(at(0), udp(), request("INVITE", "z9hG4bKj"))
            .unwrap();
        run(&mut t, 10, 32_000);
        // A: 0, .5, 1.5, 3.5, 7.5, 15.5, 31.5 s.
        assert_eq!(statuses(&mut t).len(), 7);
        assert!(matches!(t.poll_delivery(), Some(Delivery::Timeout { .. })));
    }

    #[test]
    fn a_cancel_finds_its_invite() {
        let mut t = Transactions::new();
        send(&mut t, 0, udp(), "INVITE", "z9hG4bKk");
        let cancel = request("CANCEL", "z9hG4bKk");
        assert!(t.invite_for_cancel(&cancel).is_some());
        assert!(
            t.invite_for_cancel(&request("CANCEL", "z9hG4bKzz"))
                .is_none()
        );
    }

    #[test]
    fn rfc_2543_requests_without_a_cookie_still_match() {
        let mut t = Transactions::new();
        send(&mut t, 0, udp(), "OPTIONS", "old1");
        send(&mut t, 10, udp(), "OPTIONS", "old1");
        assert!(t.poll_delivery().is_some());
        assert!(
            t.poll_delivery().is_none(),
            "matched as the same transaction"
        );
    }
}
