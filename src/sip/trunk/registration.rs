//! Registering with a trunk (RFC 3261 §10.2, the client's side), sans-IO: the switch
//! asks when the next REGISTER is [`Registration::due`], sends what
//! [`Registration::request`] builds on a client transaction, and hands back what came
//! of it. A challenge is answered once (again when the nonce was only stale); the
//! binding is refreshed at half the granted expiry, with the last nonce counted up so
//! a refresh needs no new challenge; a failure retries after 30 s, 60 s, ... 30 min.

use super::Trunk;
use crate::clock::{Duration, Timestamp};
use crate::sip::auth::{Challenge, DigestClient};
use crate::sip::message::{Headers, Method, Request, Response, Uri};
use std::net::SocketAddr;
use tracing::{debug, info, warn};

/// The expiry asked for, in seconds.
pub const REQUESTED_EXPIRES: u32 = 3600;
/// The wait after a first failure; it doubles with each failure after.
const FIRST_RETRY: Duration = Duration::seconds(30);
/// The longest wait between attempts.
const LONGEST_RETRY: Duration = Duration::seconds(1800);

/// Where a registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not registered yet.
    Unregistered,
    /// Registered until then.
    Registered {
        /// When the binding lapses.
        until: Timestamp,
    },
    /// The last attempt failed; another is due.
    Failed,
    /// Taking the binding away (the PBX is stopping).
    Unregistering,
    /// Done: unregistered for good.
    Off,
}

/// What the switch supplies for a REGISTER: our address and its randomness.
pub struct Fresh {
    /// Our SIP address (Via, Contact).
    pub local: SocketAddr,
    /// A new `z9hG4bK` branch.
    pub branch: String,
    /// A new client nonce.
    pub cnonce: String,
}

/// What to do after a response.
#[derive(Debug)]
pub enum Next {
    /// Send this REGISTER now (a challenge answered, a longer expiry asked for).
    Send(Request),
    /// Nothing until [`Registration::due`].
    Wait,
}

/// One trunk's registration.
#[derive(Debug)]
pub struct Registration {
    client: Option<DigestClient>,
    call_id: String,
    tag: String,
    cseq: u32,
    /// The expiry asked for (raised by a 423).
    expires: u32,
    state: State,
    due: Option<Timestamp>,
    failures: u32,
    /// Challenges answered in the exchange under way.
    answered: u8,
}

impl Registration {
    /// A registration for `trunk`, due at once; `call_id` and `tag` stay for its life.
    pub fn new(trunk: &Trunk, call_id: String, tag: String) -> Registration {
        Registration {
            client: trunk.digest_client(),
            call_id,
            tag,
            cseq: 0,
            expires: REQUESTED_EXPIRES,
            state: State::Unregistered,
            due: Some(Timestamp(0)),
            failures: 0,
            answered: 0,
        }
    }

    /// Where it stands.
    pub fn state(&self) -> State {
        self.state
    }

    /// When the next REGISTER is to go (`None`: one is under way, or it is off).
    pub fn due(&self) -> Option<Timestamp> {
        self.due
    }

    /// The REGISTER to send now; a refresh answers the last challenge again.
    pub fn request(&mut self, trunk: &Trunk, fresh: &Fresh) -> Request {
        self.due = None;
        self.answered = 0;
        let uri = format!("sip:{}", trunk.domain);
        let authorization = self
            .client
            .as_mut()
            .and_then(|c| c.again("REGISTER", &uri, &fresh.cnonce))
            .map(|a| ("Authorization", a));
        self.build(trunk, fresh, authorization)
    }

    /// Takes the final response to the last REGISTER.
    pub fn response(
        &mut self,
        now: Timestamp,
        trunk: &Trunk,
        response: &Response,
        fresh: &Fresh,
    ) -> Next {
        match response.status {
            100..=199 => Next::Wait,
            200..=299 if self.state == State::Unregistering => {
                info!(trunk = %trunk.name, "unregistered from the trunk");
                self.state = State::Off;
                Next::Wait
            }
            200..=299 => {
                let granted = self.granted(trunk, response, fresh.local);
                let until = now.after(Duration::seconds(i64::from(granted)));
                if matches!(self.state, State::Registered { .. }) {
                    debug!(trunk = %trunk.name, expires = granted, "registration refreshed");
                } else {
                    info!(trunk = %trunk.name, expires = granted, "registered with the trunk");
                }
                self.state = State::Registered { until };
                self.failures = 0;
                // Half the grant, and never sooner than a second from now.
                let half = Duration((i64::from(granted) * 1000 / 2).max(1000));
                self.due = Some(now.after(half));
                Next::Wait
            }
            401 | 407 => self.challenged(now, trunk, response, fresh),
            423 => {
                let min = response
                    .headers
                    .get("Min-Expires")
                    .and_then(|v| v.trim().parse::<u32>().ok())
                    .filter(|m| *m > self.expires);
                match min {
                    Some(m) if self.state != State::Unregistering => {
                        self.expires = m;
                        Next::Send(self.build(trunk, fresh, None))
                    }
                    _ => self.failed(now, trunk, "423 without a usable Min-Expires"),
                }
            }
            status => self.failed(now, trunk, &format!("{status} {}", response.reason)),
        }
    }

    /// The REGISTER got no final answer in time.
    pub fn timeout(&mut self, now: Timestamp, trunk: &Trunk) {
        self.failed(now, trunk, "no answer");
    }

    /// The PBX is stopping: take the binding away if there is one.
    pub fn unregister(&mut self) {
        if matches!(self.state, State::Registered { .. }) {
            self.state = State::Unregistering;
            self.due = Some(Timestamp(0));
        } else {
            self.state = State::Off;
            self.due = None;
        }
    }

    fn challenged(
        &mut self,
        now: Timestamp,
        trunk: &Trunk,
        response: &Response,
        fresh: &Fresh,
    ) -> Next {
        let (challenge, write) = Challenge::of(response);
        match (challenge, self.client.is_some()) {
            (Some(c), true) if c.worth_answering(self.answered) => {
                self.answered += 1;
                let uri = format!("sip:{}", trunk.domain);
                let client = self.client.as_mut().expect("checked");
                let answer = client.answer(&c, "REGISTER", &uri, &fresh.cnonce);
                Next::Send(self.build(trunk, fresh, Some((write, answer))))
            }
            (None, _) => self.failed(now, trunk, "a challenge we cannot answer"),
            (_, false) => self.failed(now, trunk, "challenged, and no username and secret"),
            (Some(_), true) => self.failed(now, trunk, "our credentials were refused"),
        }
    }

    fn failed(&mut self, now: Timestamp, trunk: &Trunk, why: &str) -> Next {
        if self.state == State::Unregistering {
            warn!(trunk = %trunk.name, why, "unregistering from the trunk failed");
            self.state = State::Off;
            return Next::Wait;
        }
        self.failures += 1;
        let doublings = self.failures.saturating_sub(1).min(16);
        let wait = Duration(FIRST_RETRY.0.saturating_mul(1 << doublings)).min(LONGEST_RETRY);
        warn!(
            trunk = %trunk.name,
            why,
            retry_in = wait.as_seconds(),
            "registration with the trunk failed"
        );
        self.state = State::Failed;
        self.due = Some(now.after(wait));
        Next::Wait
    }

    /// The expiry the registrar granted our contact: its `expires` parameter, else the
    /// response's Expires, else what we asked for.
    fn granted(&self, trunk: &Trunk, response: &Response, local: SocketAddr) -> u32 {
        let ours = response.contacts().into_iter().find(|c| {
            c.uri.user.as_deref() == Some(trunk.user())
                && c.uri.host == local.ip().to_string()
                && c.uri.port.unwrap_or(5060) == local.port()
        });
        ours.and_then(|c| c.param("expires").flatten().and_then(|v| v.parse().ok()))
            .or_else(|| response.expires())
            .unwrap_or(self.expires)
    }

    fn build(
        &mut self,
        trunk: &Trunk,
        fresh: &Fresh,
        authorization: Option<(&str, String)>,
    ) -> Request {
        self.cseq += 1;
        let expires = if self.state == State::Unregistering {
            0
        } else {
            self.expires
        };
        let (domain, user, local) = (&trunk.domain, trunk.user(), fresh.local);
        let mut headers = Headers::default();
        headers.push(
            "Via",
            format!("SIP/2.0/UDP {local};branch={};rport", fresh.branch),
        );
        headers.push("Max-Forwards", "70");
        headers.push("From", format!("<sip:{user}@{domain}>;tag={}", self.tag));
        headers.push("To", format!("<sip:{user}@{domain}>"));
        headers.push("Call-ID", self.call_id.clone());
        headers.push("CSeq", format!("{} REGISTER", self.cseq));
        headers.push("Contact", format!("<sip:{user}@{local}>"));
        headers.push("Expires", expires.to_string());
        if let Some((name, value)) = authorization {
            headers.push(name, value);
        }
        let uri = Uri::parse(&format!("sip:{domain}")).unwrap_or_else(|| Uri {
            scheme: "sip".into(),
            host: domain.clone(),
            ..Uri::default()
        });
        Request {
            method: Method::Register,
            uri,
            headers,
            body: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{CallerId, Trunks};
    use super::*;
    use crate::sip::auth::Password;
    use crate::sip::message::response_to;

    const T0: Timestamp = Timestamp(1_800_000_000_000);

    fn trunk() -> Trunk {
        Trunk {
            name: "carrier".into(),
            address: "127.0.0.1:5080".parse().unwrap(),
            domain: "127.0.0.1:5080".into(),
            account: Some(("pbx01".into(), Password::new("trunk-secret"))),
            register: true,
            caller_id: CallerId::Extension,
            dids: Default::default(),
            outbound: true,
            emergency: false,
        }
    }

    fn fresh() -> Fresh {
        Fresh {
            local: "127.0.0.1:5060".parse().unwrap(),
            branch: "z9hG4bKt".into(),
            cnonce: "c".into(),
        }
    }

    #[test]
    fn failures_back_off_doubling_up_to_half_an_hour() {
        let t = trunk();
        assert_eq!(Trunks(vec![t.clone()]).outbound(), Some(&t));
        let mut r = Registration::new(&t, "cid".into(), "tag".into());
        let mut now = T0;
        let mut waits = Vec::new();
        for _ in 0..8 {
            let request = r.request(&t, &fresh());
            let refused = response_to(&request, 503, "Service Unavailable", Some("x"));
            assert!(matches!(
                r.response(now, &t, &refused, &fresh()),
                Next::Wait
            ));
            assert_eq!(r.state(), State::Failed);
            let due = r.due().unwrap();
            waits.push(due.since(now).as_seconds());
            now = due;
        }
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1800, 1800]);
    }

    #[test]
    fn a_423_asks_again_for_the_minimum() {
        let t = trunk();
        let mut r = Registration::new(&t, "cid".into(), "tag".into());
        let request = r.request(&t, &fresh());
        let mut brief = response_to(&request, 423, "Interval Too Brief", Some("x"));
        brief.headers.push("Min-Expires", "7200");
        let Next::Send(again) = r.response(T0, &t, &brief, &fresh()) else {
            panic!("a REGISTER asking for 7200 s");
        };
        assert_eq!(again.expires(), Some(7200));
        assert_eq!(again.cseq().unwrap().seq, 2);
    }
}
