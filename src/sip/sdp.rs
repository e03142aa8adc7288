//! SDP offer/answer (RFC 3264) for one audio stream: G.711 and telephone-events.
//! Offers are parsed with `sdp-types`; answers are short enough to write directly.

use crate::media::g711::Law;
use crate::media::stream::Format;
use std::net::{IpAddr, SocketAddr};

/// The negotiated audio of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Where the peer wants RTP.
    pub remote: SocketAddr,
    /// The chosen law and the peer's telephone-event payload type.
    pub format: Format,
    /// Which way the peer wants audio to flow (hold is `SendOnly` or `Inactive`).
    pub direction: Direction,
}

/// Which way a stream flows, seen from the side that wrote the SDP (RFC 3264 section 6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Both ways: a call in progress.
    #[default]
    SendRecv,
    /// The writer only sends: it holds the call (music on hold, if anything).
    SendOnly,
    /// The writer only receives.
    RecvOnly,
    /// Neither way: both sides hold.
    Inactive,
}

impl Direction {
    /// The direction an answer takes to this offer (RFC 3264 section 6.1).
    pub fn answer(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }

    /// Whether the writer of this direction wants to receive audio.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    fn attribute(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
}

/// Our side of the SDP: the RTP address and the origin line's session id and version
/// (the version goes up whenever what we say changes, RFC 3264 section 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// Our RTP address.
    pub rtp: SocketAddr,
    /// The `o=` session id.
    pub session: u64,
    /// The `o=` version.
    pub version: u64,
}

/// Why an offer cannot be answered (the INVITE gets 488 Not Acceptable Here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAcceptable(pub String);

impl NotAcceptable {
    /// The `Warning` a `488` carries: code 304, media type not available (RFC 3261 §20.43).
    pub fn warning(&self) -> String {
        format!("304 pbxctl \"{}\"", self.0.replace('"', "'"))
    }
}

/// What a re-INVITE offers: its body's media, or, when it has no body, what the dialog
/// has now (we then make the offer in the 200, RFC 3261 §14.2).
pub fn renegotiate(body: &[u8], current: Negotiated) -> Result<Negotiated, NotAcceptable> {
    if body.is_empty() {
        Ok(current)
    } else {
        negotiate(body)
    }
}

/// Reads an offer and picks the first of the peer's formats we speak (PCMU, PCMA), and
/// the payload type the peer gave `telephone-event/8000`, whatever number it chose.
pub fn negotiate(offer: &[u8]) -> Result<Negotiated, NotAcceptable> {
    let session = sdp_types::Session::parse(offer)
        .map_err(|e| NotAcceptable(format!("the SDP offer does not parse: {e}")))?;
    let audio = session
        .medias
        .iter()
        .find(|m| m.media == "audio" && m.port != 0 && m.proto.starts_with("RTP/AVP"))
        .ok_or_else(|| NotAcceptable("the offer has no RTP/AVP audio stream".into()))?;
    let connection = audio
        .connections
        .first()
        .or(session.connection.as_ref())
        .ok_or_else(|| NotAcceptable("the offer has no connection address".into()))?;
    let ip: IpAddr = connection
        .connection_address
        .split('/')
        .next()
        .unwrap_or_default()
        .parse()
        .map_err(|_| NotAcceptable("the offer's connection address is not an IP address".into()))?;
    let rtpmaps: Vec<(u8, String)> = audio
        .get_attribute_values("rtpmap")
        .flatten()
        .filter_map(|v| {
            let (pt, encoding) = v.split_once(' ')?;
            Some((
                pt.trim().parse().ok()?,
                encoding.trim().to_ascii_lowercase(),
            ))
        })
        .collect();
    let named = |pt: u8| {
        rtpmaps
            .iter()
            .find(|(p, _)| *p == pt)
            .map(|(_, e)| e.as_str())
    };
    let law = audio
        .fmt
        .split_ascii_whitespace()
        .filter_map(|f| f.parse::<u8>().ok())
        .find_map(|pt| match (pt, named(pt)) {
            (0, None) => Some(Law::Mu),
            (8, None) => Some(Law::A),
            (_, Some(e)) if e.starts_with("pcmu/8000") && pt == 0 => Some(Law::Mu),
            (_, Some(e)) if e.starts_with("pcma/8000") && pt == 8 => Some(Law::A),
            _ => None,
        })
        .ok_or_else(|| NotAcceptable("the offer has neither PCMU nor PCMA".into()))?;
    let offered: Vec<u8> = audio
        .fmt
        .split_ascii_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let telephone_event = rtpmaps
        .iter()
        .find(|(pt, e)| e.starts_with("telephone-event/8000") && offered.contains(pt))
        .map(|(pt, _)| *pt);
    // A media-level direction overrides the session's; `c=0.0.0.0` is RFC 2543's hold.
    let stated = |has: &dyn Fn(&str) -> bool| {
        [
            Direction::SendRecv,
            Direction::SendOnly,
            Direction::RecvOnly,
            Direction::Inactive,
        ]
        .into_iter()
        .find(|d| has(d.attribute()))
    };
    let direction = if ip.is_unspecified() {
        Direction::Inactive
    } else {
        stated(&|a| audio.has_attribute(a))
            .or_else(|| stated(&|a| session.has_attribute(a)))
            .unwrap_or_default()
    };
    Ok(Negotiated {
        remote: SocketAddr::new(ip, audio.port),
        format: Format {
            law,
            telephone_event,
        },
        direction,
    })
}

/// The answer: our address and port, the chosen law, telephone-events under the
/// peer's payload type (RFC 3264 section 6.1: an answer reuses the offer's numbers), and
/// the direction answering the offer's.
pub fn answer(origin: Origin, format: Format, direction: Direction) -> Vec<u8> {
    let direction = direction.answer().attribute();
    body(origin, &[format.law], format.telephone_event, direction)
}

/// The telephone-event payload type we offer when we place a call.
pub const OFFERED_EVENTS: u8 = 101;

/// Our offer when we place a call: `first` law, then the other, and telephone-events.
/// The callee's answer is read with [`negotiate`] like an offer: the first law it keeps.
pub fn offer(origin: Origin, first: Law) -> Vec<u8> {
    let second = match first {
        Law::Mu => Law::A,
        Law::A => Law::Mu,
    };
    body(origin, &[first, second], Some(OFFERED_EVENTS), "sendrecv")
}

/// An SDP body of ours: one audio stream at `origin`'s address carrying `laws` in order
/// of preference and telephone-events at `events`, 20 ms packets, `direction`.
fn body(origin: Origin, laws: &[Law], events: Option<u8>, direction: &str) -> Vec<u8> {
    let Origin {
        rtp: local,
        session: session_id,
        version,
    } = origin;
    let family = if local.is_ipv6() { "IP6" } else { "IP4" };
    let ip = local.ip();
    let mut fmts = Vec::new();
    let mut attributes = String::new();
    for law in laws {
        fmts.push(law.payload_type().to_string());
        attributes.push_str(&format!(
            "a=rtpmap:{} {}/8000\r\n",
            law.payload_type(),
            law.name()
        ));
    }
    if let Some(pt) = events {
        fmts.push(pt.to_string());
        attributes.push_str(&format!(
            "a=rtpmap:{pt} telephone-event/8000\r\na=fmtp:{pt} 0-16\r\n"
        ));
    }
    format!(
        "v=0\r\no=pbxctl {session_id} {version} IN {family} {ip}\r\ns=pbxctl\r\n\
         c=IN {family} {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP {fmts}\r\n{attributes}\
         a=ptime:20\r\na={direction}\r\n",
        port = local.port(),
        fmts = fmts.join(" "),
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(m: &str, extra: &str) -> Vec<u8> {
        format!(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n{m}\r\n{extra}"
        )
        .into_bytes()
    }

    #[test]
    fn the_first_g711_law_offered_wins_and_the_event_type_comes_from_the_offer() {
        let n = negotiate(&offer(
            "m=audio 4000 RTP/AVP 18 8 0 96",
            "a=rtpmap:18 G729/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:96 telephone-event/8000\r\n",
        ))
        .unwrap();
        assert_eq!(n.remote, "10.0.0.5:4000".parse().unwrap());
        assert_eq!(n.format.law, Law::A);
        assert_eq!(n.format.telephone_event, Some(96));
    }

    #[test]
    fn static_types_need_no_rtpmap_and_no_events_is_fine() {
        let n = negotiate(&offer("m=audio 4000 RTP/AVP 0", "")).unwrap();
        assert_eq!((n.format.law, n.format.telephone_event), (Law::Mu, None));
    }

    #[test]
    fn a_media_level_connection_wins() {
        let n = negotiate(&offer("m=audio 4002 RTP/AVP 0", "c=IN IP4 192.0.2.9\r\n")).unwrap();
        assert_eq!(n.remote, "192.0.2.9:4002".parse().unwrap());
    }

    #[test]
    fn offers_we_cannot_take_say_why() {
        for (sdp, why) in [
            (
                offer("m=audio 4000 RTP/AVP 18", "a=rtpmap:18 G729/8000\r\n"),
                "neither PCMU nor PCMA",
            ),
            (offer("m=video 4000 RTP/AVP 0", ""), "no RTP/AVP audio"),
            (b"garbage".to_vec(), "does not parse"),
        ] {
            let e = negotiate(&sdp).unwrap_err();
            assert!(e.0.contains(why), "{}", e.0);
        }
    }

    #[test]
    fn the_answer_parses_back_to_the_same_choice() {
        let f = Format {
            law: Law::Mu,
            telephone_event: Some(101),
        };
        let origin = Origin {
            rtp: "127.0.0.1:20002".parse().unwrap(),
            session: 7,
            version: 7,
        };
        let a = answer(origin, f, Direction::SendRecv);
        let n = negotiate(&a).unwrap();
        assert_eq!((n.remote.port(), n.format), (20002, f));
        assert_eq!(n.direction, Direction::SendRecv);
    }

    #[test]
    fn hold_offers_are_read_and_answered_the_other_way() {
        let held = negotiate(&offer("m=audio 4000 RTP/AVP 0", "a=sendonly\r\n")).unwrap();
        assert_eq!(held.direction, Direction::SendOnly);
        let old_style = String::from_utf8(offer("m=audio 4000 RTP/AVP 0", ""))
            .unwrap()
            .replace("10.0.0.5", "0.0.0.0");
        assert_eq!(
            negotiate(old_style.as_bytes()).unwrap().direction,
            Direction::Inactive
        );
        let origin = Origin {
            rtp: "127.0.0.1:20002".parse().unwrap(),
            session: 7,
            version: 8,
        };
        let a = String::from_utf8(answer(origin, held.format, held.direction)).unwrap();
        assert!(a.contains("a=recvonly\r\n"), "{a}");
        assert!(a.contains("o=pbxctl 7 8 IN IP4"), "{a}");
    }

    #[test]
    fn our_offer_puts_the_callers_law_first_and_reads_back() {
        let origin = Origin {
            rtp: "127.0.0.1:20004".parse().unwrap(),
            session: 9,
            version: 1,
        };
        let o = super::offer(origin, Law::A);
        let text = String::from_utf8(o.clone()).unwrap();
        assert!(text.contains("m=audio 20004 RTP/AVP 8 0 101\r\n"), "{text}");
        let n = negotiate(&o).unwrap();
        assert_eq!(n.format.law, Law::A);
        assert_eq!(n.format.telephone_event, Some(OFFERED_EVENTS));
    }
}
