//! SIP messages: parsing, typed header access and serialisation.
//!
//! This is the only module that may touch the `rsip` crate, and no rsip type
//! appears in its API. In the end rsip is used only by the tests, as an
//! independent parser that must accept what [`Request::to_bytes`] writes:
//! on the RFC 4475 torture messages its parser rejects valid input (folding,
//! compact names, unknown methods, `sip:user;par=...@host`, IPv6) and, worse,
//! accepts invalid input or mis-parses silently (`sip:j.user@example.com`
//! gets host `j.user@example.com`), so a "try rsip, fall back" design would
//! give wrong answers rather than errors. The grammar here is written by hand
//! from RFC 3261 §25 in `message/grammar.rs`, and framing plus the message-level
//! checks of RFC 4475 §3.1.2 live in `message/parser.rs`.
//!
//! Parsing never panics: input is walked with checked indexing only, and the
//! tests feed every torture message truncated at every byte and with random
//! byte flips.

use std::fmt;

mod grammar;
mod names;
mod parser;
#[cfg(test)]
mod tests;

/// RFC 3261 `token` characters, for the other SIP grammars (digest parameters).
pub(in crate::sip) use grammar::auth_params;
pub use names::reason_phrase;
pub use parser::{MAX_HEADER_BYTES, MAX_STREAM_BODY, leading_keepalive};

use names::{LIST_HEADERS, canonical_name};

/// A request method; extension methods keep their exact (case-sensitive) token.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// INVITE
    Invite,
    /// ACK
    Ack,
    /// BYE
    Bye,
    /// CANCEL
    Cancel,
    /// OPTIONS
    Options,
    /// REGISTER
    Register,
    /// INFO (RFC 6086)
    Info,
    /// SUBSCRIBE (RFC 6665)
    Subscribe,
    /// NOTIFY (RFC 6665)
    Notify,
    /// REFER (RFC 3515)
    Refer,
    /// MESSAGE (RFC 3428)
    Message,
    /// UPDATE (RFC 3311)
    Update,
    /// PRACK (RFC 3262)
    Prack,
    /// PUBLISH (RFC 3903)
    Publish,
    /// Any other token, as received.
    Other(String),
}

/// The methods with their own variant, and their tokens.
const METHODS: [(Method, &str); 14] = [
    (Method::Invite, "INVITE"),
    (Method::Ack, "ACK"),
    (Method::Bye, "BYE"),
    (Method::Cancel, "CANCEL"),
    (Method::Options, "OPTIONS"),
    (Method::Register, "REGISTER"),
    (Method::Info, "INFO"),
    (Method::Subscribe, "SUBSCRIBE"),
    (Method::Notify, "NOTIFY"),
    (Method::Refer, "REFER"),
    (Method::Message, "MESSAGE"),
    (Method::Update, "UPDATE"),
    (Method::Prack, "PRACK"),
    (Method::Publish, "PUBLISH"),
];

impl Method {
    /// The method token as sent on the wire.
    pub fn as_str(&self) -> &str {
        if let Method::Other(token) = self {
            return token;
        }
        METHODS
            .iter()
            .find(|(m, _)| m == self)
            .map_or("", |(_, s)| s)
    }

    /// Maps a token to a method. Methods are case-sensitive (RFC 3261 §7.1),
    /// so `invite` is an extension method, as is `RE%47IST%45R` (esc02).
    pub fn parse(token: &str) -> Method {
        METHODS
            .iter()
            .find(|(_, s)| *s == token)
            .map_or_else(|| Method::Other(token.to_owned()), |(m, _)| m.clone())
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Header fields in message order, as (canonical full name, unfolded value).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// The first value of `name` (case-insensitive, compact form accepted);
    /// for list headers such as Via this is the first element, like `all().next()`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values(name).next()
    }

    /// Every value of `name` in order; list headers are split on commas outside
    /// quotes and `<>`, and empty elements are skipped.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.values(name)
    }

    /// `all` without tying the result to the lifetime of `name`.
    fn values<'s>(&'s self, name: &str) -> impl Iterator<Item = &'s str> + use<'s> {
        let name = canonical_name(name);
        let list = LIST_HEADERS.iter().any(|l| l.eq_ignore_ascii_case(&name));
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(&name))
            .flat_map(move |(_, v)| {
                let mut one = Some(v.as_str());
                let mut split = list.then(|| grammar::TopLevelSplit::new(v));
                std::iter::from_fn(move || match split.as_mut() {
                    Some(s) => s.next(),
                    None => one.take(),
                })
            })
    }

    /// Appends a header (the name is canonicalised).
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        self.0.push((canonical_name(name), value.into()));
    }

    /// Replaces every `name` header by one value, at the place of the first.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let canon = canonical_name(name);
        let first = self
            .0
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(&canon));
        // An unknown name keeps the spelling it already had.
        let name = first
            .and_then(|i| self.0.get(i))
            .map_or(canon, |(n, _)| n.clone());
        self.remove(&name);
        let at = first.unwrap_or(self.0.len()).min(self.0.len());
        self.0.insert(at, (name, value.into()));
    }

    /// Writes where a request really came from into its top Via (RFC 3261 section
    /// 18.2.1, RFC 3581): `received` when the sent-by host is not the source address,
    /// and `received` and `rport` when the sender asked for `rport`. Every other
    /// parameter is kept as it was.
    pub fn stamp_top_via(&mut self, source: std::net::SocketAddr) {
        let Some(line) = self
            .0
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case("Via"))
        else {
            return;
        };
        let mut elements: Vec<&str> = grammar::TopLevelSplit::new(&line.1).collect();
        let Some(top) = elements.first().copied() else {
            return;
        };
        let Some(via) = Via::parse(top) else {
            return;
        };
        let ip = source.ip().to_string();
        let host = via.host.trim_start_matches('[').trim_end_matches(']');
        let asked = via.rport.is_some();
        if !asked && host.eq_ignore_ascii_case(&ip) {
            return;
        }
        let mut parts: Vec<String> = top
            .split(';')
            .map(str::trim)
            .filter(|p| {
                let name = p.split('=').next().unwrap_or_default().trim();
                !name.eq_ignore_ascii_case("received") && !name.eq_ignore_ascii_case("rport")
            })
            .map(str::to_owned)
            .collect();
        parts.push(format!("received={ip}"));
        if asked {
            parts.push(format!("rport={}", source.port()));
        }
        let stamped = parts.join(";");
        elements[0] = &stamped;
        line.1 = elements.join(", ");
    }

    /// Removes every `name` header.
    pub fn remove(&mut self, name: &str) {
        let canon = canonical_name(name);
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(&canon));
    }

    /// Whether a `name` header is present.
    pub fn contains(&self, name: &str) -> bool {
        let canon = canonical_name(name);
        self.0.iter().any(|(n, _)| n.eq_ignore_ascii_case(&canon))
    }

    /// All header lines in order, as (name, value).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of header lines.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The Call-ID.
    pub fn call_id(&self) -> Option<&str> {
        self.get("Call-ID")
    }

    /// The CSeq, if present and well formed.
    pub fn cseq(&self) -> Option<CSeq> {
        grammar::parse_cseq(self.get("CSeq")?).ok()
    }

    /// The From address, if present and well formed.
    pub fn from(&self) -> Option<NameAddr> {
        NameAddr::parse(self.get("From")?)
    }

    /// The To address, if present and well formed.
    pub fn to(&self) -> Option<NameAddr> {
        NameAddr::parse(self.get("To")?)
    }

    /// Every well-formed Via, topmost first.
    pub fn vias(&self) -> Vec<Via> {
        self.all("Via").filter_map(Via::parse).collect()
    }

    /// The topmost Via, if it is well formed.
    pub fn top_via(&self) -> Option<Via> {
        Via::parse(self.get("Via")?)
    }

    /// Every well-formed Contact (`Contact: *` gives one with `star` set).
    pub fn contacts(&self) -> Vec<NameAddr> {
        self.name_addrs("Contact", true)
    }

    /// Every well-formed Route, in order.
    pub fn routes(&self) -> Vec<NameAddr> {
        self.name_addrs("Route", false)
    }

    /// Every well-formed Record-Route, in order.
    pub fn record_routes(&self) -> Vec<NameAddr> {
        self.name_addrs("Record-Route", false)
    }

    fn name_addrs(&self, name: &str, star: bool) -> Vec<NameAddr> {
        self.all(name)
            .filter_map(|v| grammar::parse_name_addr(v, star).ok())
            .collect()
    }

    /// Max-Forwards, if it is a plain number.
    pub fn max_forwards(&self) -> Option<u32> {
        grammar::parse_u32(self.get("Max-Forwards")?)
    }

    /// The Expires header in seconds, if it is a plain number.
    pub fn expires(&self) -> Option<u32> {
        grammar::parse_u32(self.get("Expires")?)
    }

    /// Content-Length, if it is a plain number.
    pub fn content_length(&self) -> Option<u32> {
        grammar::parse_u32(self.get("Content-Length")?)
    }

    /// The media type of the body, lowercased and without parameters
    /// (`application/sdp`).
    pub fn content_type(&self) -> Option<String> {
        let v = self.get("Content-Type")?;
        let media: String = v
            .split(';')
            .next()
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        (!media.is_empty()).then(|| media.to_ascii_lowercase())
    }

    /// Writes `Name: value\r\n` lines, leaving out Content-Length; CR and LF
    /// inside values become spaces so a value cannot inject headers.
    fn write_without_length(&self, out: &mut Vec<u8>) {
        for (name, value) in self.iter().filter(|(n, _)| *n != "Content-Length") {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend(
                value
                    .bytes()
                    .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
            );
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// One Via header value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Via {
    /// Transport token, uppercased: `UDP`, `TCP`, `TLS`, `SCTP`, `WS`...
    pub transport: String,
    /// The sent-by host (IPv6 references keep their brackets).
    pub host: String,
    /// The sent-by port, if given.
    pub port: Option<u16>,
    /// The `branch` parameter (absent in RFC 2543 requests).
    pub branch: Option<String>,
    /// The `received` parameter.
    pub received: Option<String>,
    /// The `rport` parameter: `Some(None)` for a bare `;rport` (RFC 3581).
    pub rport: Option<Option<u16>>,
    /// The value as received (or empty when built by hand); `Display` uses
    /// it only while the other fields still match it.
    pub raw: String,
}

impl Via {
    /// Parses one via-parm (not a comma-separated list).
    pub fn parse(value: &str) -> Option<Via> {
        grammar::parse_via(value).ok()
    }
}

impl fmt::Display for Via {
    /// `raw` while the fields still say the same, else built from the fields.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.raw.is_empty() && Via::parse(&self.raw).as_ref() == Some(self) {
            return f.write_str(&self.raw);
        }
        write!(f, "SIP/2.0/{} {}", self.transport, self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        if let Some(branch) = &self.branch {
            write!(f, ";branch={branch}")?;
        }
        if let Some(received) = &self.received {
            write!(f, ";received={received}")?;
        }
        match self.rport {
            Some(Some(p)) => write!(f, ";rport={p}"),
            Some(None) => f.write_str(";rport"),
            None => Ok(()),
        }
    }
}

/// A URI: SIP, SIPS and tel are fully parsed; other schemes keep `raw`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Uri {
    /// Scheme, lowercased: `sip`, `sips`, `tel` or anything else.
    pub scheme: String,
    /// The user part, percent-decoded (for `tel:`, the number).
    pub user: Option<String>,
    /// Host (IPv6 references keep their brackets); empty for tel and opaque URIs.
    pub host: String,
    /// Port, if given.
    pub port: Option<u16>,
    /// URI parameters, percent-decoded, in order.
    pub params: Vec<(String, Option<String>)>,
    /// The URI as received (or empty when built by hand); `Display` uses it
    /// only while the other fields still match it.
    pub raw: String,
}

impl Uri {
    /// Parses an absolute URI (as found in a header, so `?headers` are allowed).
    pub fn parse(s: &str) -> Option<Uri> {
        grammar::parse_uri(s, grammar::UriContext::Header).ok()
    }

    /// A URI parameter by name (case-insensitive): `Some(None)` if it has no value.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        find_param(&self.params, name)
    }
}

impl fmt::Display for Uri {
    /// `raw` while the fields still say the same (or were never filled in),
    /// else built from the fields, so editing `host` or `params` takes effect.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unchanged = || self.scheme.is_empty() || Uri::parse(&self.raw).as_ref() == Some(self);
        if !self.raw.is_empty() && unchanged() {
            return f.write_str(&self.raw);
        }
        write!(f, "{}:", self.scheme)?;
        if let Some(user) = &self.user {
            write!(f, "{}", escape_user(user))?;
            if !self.host.is_empty() {
                f.write_str("@")?;
            }
        }
        f.write_str(&self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        write_params(f, &self.params)
    }
}

/// Percent-encodes what may not appear literally in a user part.
fn escape_user(user: &str) -> String {
    let mut out = String::new();
    for b in user.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn write_params(f: &mut fmt::Formatter<'_>, params: &[(String, Option<String>)]) -> fmt::Result {
    for (name, value) in params {
        match value {
            Some(v) => write!(f, ";{name}={v}")?,
            None => write!(f, ";{name}")?,
        }
    }
    Ok(())
}

fn find_param<'a>(params: &'a [(String, Option<String>)], name: &str) -> Option<Option<&'a str>> {
    params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_deref())
}

/// An address as in From, To, Contact, Route: `"Display" <uri>;params`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name, unquoted and unescaped.
    pub display: Option<String>,
    /// The address.
    pub uri: Uri,
    /// Header parameters after the address (tag, expires, q...), values as
    /// written (quoted strings keep their quotes).
    pub params: Vec<(String, Option<String>)>,
    /// `Contact: *`.
    pub star: bool,
}

impl NameAddr {
    /// Parses one name-addr or addr-spec with parameters (`*` is accepted).
    pub fn parse(value: &str) -> Option<NameAddr> {
        grammar::parse_name_addr(value, true).ok()
    }

    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&str> {
        self.param("tag").flatten()
    }

    /// A header parameter by name (case-insensitive): `Some(None)` if it has no value.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        find_param(&self.params, name)
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.star {
            return f.write_str("*");
        }
        if let Some(d) = &self.display {
            f.write_str("\"")?;
            for c in d.chars() {
                if c == '"' || c == '\\' {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
            f.write_str("\" ")?;
        }
        write!(f, "<{}>", self.uri)?;
        write_params(f, &self.params)
    }
}

/// A CSeq header: sequence number and method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CSeq {
    /// Sequence number.
    pub seq: u32,
    /// Method.
    pub method: Method,
}

/// A SIP request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The Request-URI.
    pub uri: Uri,
    /// The headers.
    pub headers: Headers,
    /// The body.
    pub body: Vec<u8>,
}

/// A SIP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Status code, 100-699.
    pub status: u16,
    /// Reason phrase (may be empty).
    pub reason: String,
    /// The headers.
    pub headers: Headers,
    /// The body.
    pub body: Vec<u8>,
}

/// A request or a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

impl Message {
    /// The headers of either kind.
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }

    /// The wire form of either kind.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }
}

/// Typed header accessors, identical on requests and responses.
macro_rules! accessors {
    ($ty:ty) => {
        impl $ty {
            /// The Call-ID.
            pub fn call_id(&self) -> Option<&str> {
                self.headers.call_id()
            }
            /// The CSeq.
            pub fn cseq(&self) -> Option<CSeq> {
                self.headers.cseq()
            }
            /// The From address.
            pub fn from(&self) -> Option<NameAddr> {
                self.headers.from()
            }
            /// The To address.
            pub fn to(&self) -> Option<NameAddr> {
                self.headers.to()
            }
            /// Every Via, topmost first.
            pub fn vias(&self) -> Vec<Via> {
                self.headers.vias()
            }
            /// The topmost Via.
            pub fn top_via(&self) -> Option<Via> {
                self.headers.top_via()
            }
            /// Every Contact.
            pub fn contacts(&self) -> Vec<NameAddr> {
                self.headers.contacts()
            }
            /// Every Route, in order.
            pub fn routes(&self) -> Vec<NameAddr> {
                self.headers.routes()
            }
            /// Every Record-Route, in order.
            pub fn record_routes(&self) -> Vec<NameAddr> {
                self.headers.record_routes()
            }
            /// Max-Forwards.
            pub fn max_forwards(&self) -> Option<u32> {
                self.headers.max_forwards()
            }
            /// The Expires header, in seconds.
            pub fn expires(&self) -> Option<u32> {
                self.headers.expires()
            }
            /// The body's media type, lowercased, without parameters.
            pub fn content_type(&self) -> Option<String> {
                self.headers.content_type()
            }
        }
    };
}

accessors!(Request);
accessors!(Response);

impl Request {
    /// The wire form; Content-Length is written last, from the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} SIP/2.0\r\n", self.method, self.uri).into_bytes();
        finish(&mut out, &self.headers, &self.body);
        out
    }
}

impl Response {
    /// The wire form; Content-Length is written last, from the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let reason: String = self
            .reason
            .chars()
            .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
            .collect();
        let mut out = format!("SIP/2.0 {} {}\r\n", self.status, reason).into_bytes();
        finish(&mut out, &self.headers, &self.body);
        out
    }
}

fn finish(out: &mut Vec<u8>, headers: &Headers, body: &[u8]) {
    headers.write_without_length(out);
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
}

/// Why a message was refused, with what is needed to answer it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Short reason, fit for a reason phrase or Warning text (never echoes input).
    pub reason: String,
    /// The headers that could be read, so a 400 can copy Via, From, To, Call-ID, CSeq.
    pub partial: Option<Headers>,
    /// Whether the start line looked like a request (responses are just dropped).
    pub is_request: bool,
    /// The status to answer with: 400; 505 for an unsupported SIP version
    /// (badvers); 501 for an unknown method whose CSeq disagrees (mismatch02);
    /// 413 for an oversized stream body.
    pub status: u16,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.reason)
    }
}

impl std::error::Error for ParseError {}

/// Parses one datagram or one framed stream message. Leading CRLFs are skipped;
/// with no Content-Length the body is the rest of the input, and input beyond
/// Content-Length is ignored (RFC 3261 §18.3).
pub fn parse(bytes: &[u8]) -> Result<Message, ParseError> {
    parser::parse(bytes)
}

/// For TCP: given a buffer, how many bytes the first complete message takes
/// (leading CRLF keep-alives included), `Ok(None)` if incomplete, `Err` if the
/// header section is unparseable or Content-Length missing/invalid.
pub fn frame_length(buf: &[u8]) -> Result<Option<usize>, ParseError> {
    parser::frame_length(buf)
}

/// A response to `req`: copies all Via (in order), From, To (adding
/// `;tag=<to_tag>` if To has no tag and to_tag is Some), Call-ID, CSeq;
/// Content-Length 0; plus a `Server: pbxctl` header. An empty `reason` gets
/// the standard phrase.
pub fn response_to(req: &Request, status: u16, reason: &str, to_tag: Option<&str>) -> Response {
    let reason = if reason.is_empty() {
        reason_phrase(status)
    } else {
        reason
    };
    Response {
        status,
        reason: reason.to_owned(),
        headers: reply_headers(&req.headers, to_tag),
        body: Vec::new(),
    }
}

/// The headers every response copies from its request (RFC 3261 §8.2.6.2).
fn reply_headers(from: &Headers, to_tag: Option<&str>) -> Headers {
    let mut h = Headers::default();
    // Whole lines, so a line carrying several Vias stays as it was.
    for (name, value) in from.iter().filter(|(n, _)| *n == "Via") {
        h.push(name, value);
    }
    for name in ["From", "To", "Call-ID", "CSeq"] {
        let Some(value) = from
            .0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
        else {
            continue;
        };
        let has_tag = || grammar::parse_name_addr(value, false).is_ok_and(|na| na.tag().is_some());
        match to_tag {
            Some(tag) if name == "To" && !has_tag() => h.push(name, format!("{value};tag={tag}")),
            _ => h.push(name, value),
        }
    }
    h.push("Server", "pbxctl");
    h.push("Content-Length", "0");
    h
}

/// The response to send for a request that failed to parse: needs a Via and
/// a CSeq (the client matches on branch and CSeq method), copied verbatim even
/// if malformed (badinv01); From, To and Call-ID are copied when present. The
/// caller sends it to the source address when the top Via is unusable.
/// `None` for responses and hopeless input: drop those.
pub fn error_response(err: &ParseError, to_tag: Option<&str>) -> Option<Response> {
    let headers = err.partial.as_ref()?;
    if !err.is_request || !headers.contains("Via") || !headers.contains("CSeq") {
        return None;
    }
    Some(Response {
        status: err.status,
        reason: format!("{} ({})", reason_phrase(err.status), err.reason),
        headers: reply_headers(headers, to_tag),
        body: Vec::new(),
    })
}
