//! Framing and message-level validation: splitting the header section into
//! lines, unfolding, expanding compact names, the start line, Content-Length,
//! and the RFC 4475 §3.1.2 checks that make a message invalid as a whole.

use super::grammar::{
    UriContext, Why, call_id_ok, is_token, is_token_byte, parse_cseq, parse_name_addr, parse_u32,
    parse_uri, parse_via, split_top_level,
};
use super::{Headers, Message, Method, ParseError, Request, Response, canonical_name};

/// Largest header section `frame_length` waits for before giving up on a stream.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Largest body `frame_length` accepts on a stream (a bigger Content-Length
/// would make the caller buffer without bound).
pub const MAX_STREAM_BODY: usize = 4 * 1024 * 1024;

/// The header section, split but not yet interpreted.
struct Envelope<'a> {
    /// The start line, without its line ending.
    start: &'a [u8],
    /// Unfolded headers under canonical names.
    headers: Vec<(String, String)>,
    /// The first malformed header line, if any.
    error: Option<Why>,
    /// Offset of the body in the input, if the header section ended.
    body_at: Option<usize>,
}

/// Number of leading CR/LF bytes: keep-alives (RFC 5626 §4.4.1) and the blank
/// lines RFC 3261 §7.5 says to ignore before a start line.
pub fn leading_keepalive(buf: &[u8]) -> usize {
    buf.iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count()
}

/// Splits `buf[from..]` into the start line and header lines. Lines end in
/// CRLF (bare LF is tolerated). When `eof_ends_headers` (a datagram), running
/// out of input right after a complete line also ends the header section.
fn envelope(buf: &[u8], from: usize, eof_ends_headers: bool) -> Envelope<'_> {
    let mut env = Envelope {
        start: &[],
        headers: Vec::new(),
        error: None,
        body_at: None,
    };
    // The value being unfolded, or None after a malformed line (whose
    // continuation lines are then dropped with it).
    let mut current: Option<(String, Vec<u8>)> = None;
    let mut pos = from;
    let mut first = true;
    loop {
        let rest = buf.get(pos..).unwrap_or(&[]);
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            if rest.is_empty() && eof_ends_headers && !first {
                env.body_at = Some(pos);
            } else if !rest.is_empty() {
                env.error.get_or_insert("truncated header line");
            }
            break;
        };
        let mut line = rest.get(..nl).unwrap_or(&[]);
        if let Some(l) = line.strip_suffix(b"\r") {
            line = l;
        }
        pos += nl + 1;
        if first {
            env.start = line;
            first = false;
            continue;
        }
        if line.is_empty() {
            env.body_at = Some(pos);
            break;
        }
        if line.contains(&b'\r') {
            env.error.get_or_insert("bare CR in header");
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            // Folding (RFC 3261 §7.3.1): the line break and surrounding
            // white space are one SP.
            if let Some((_, value)) = current.as_mut() {
                while value.last().is_some_and(|&b| b == b' ' || b == b'\t') {
                    value.pop();
                }
                value.push(b' ');
                value.extend(line.iter().skip_while(|&&b| b == b' ' || b == b'\t'));
            } else if env.headers.is_empty() {
                env.error.get_or_insert("white space before first header");
            }
            continue;
        }
        flush(&mut env.headers, current.take());
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            env.error.get_or_insert("header line without colon");
            continue;
        };
        let name = line.get(..colon).unwrap_or(&[]);
        // HCOLON = *( SP / HTAB ) ":" SWS
        let name_len = name.len()
            - name
                .iter()
                .rev()
                .take_while(|&&b| b == b' ' || b == b'\t')
                .count();
        let name = name.get(..name_len).unwrap_or(&[]);
        if name.is_empty() || !name.iter().all(|&b| is_token_byte(b)) {
            env.error.get_or_insert("bad header name");
            continue;
        }
        // Token bytes are ASCII, so this cannot fail.
        let name = std::str::from_utf8(name).unwrap_or_default();
        current = Some((
            canonical_name(name),
            line.get(colon + 1..).unwrap_or(&[]).to_vec(),
        ));
    }
    flush(&mut env.headers, current);
    env
}

/// Stores a finished header: UTF-8 (lossy, header values are mostly text),
/// trimmed of SP/HTAB.
fn flush(headers: &mut Vec<(String, String)>, current: Option<(String, Vec<u8>)>) {
    if let Some((name, value)) = current {
        let value = String::from_utf8_lossy(&value);
        headers.push((name, super::grammar::trim_ws(&value).to_owned()));
    }
}

/// Result of checking a `SIP/x.y` token.
enum Version {
    Ok,
    /// Well formed but not 2.0: 505 for requests (badvers).
    Unsupported,
    Bad,
}

fn version(v: &[u8]) -> Version {
    let Some(rest) = v
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case(b"SIP/"))
        .and(v.get(4..))
    else {
        return Version::Bad;
    };
    if rest == b"2.0" {
        return Version::Ok;
    }
    let mut parts = rest.split(|&b| b == b'.');
    let num =
        |p: Option<&[u8]>| p.is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit));
    if num(parts.next()) && num(parts.next()) && parts.next().is_none() {
        Version::Unsupported
    } else {
        Version::Bad
    }
}

/// What the start line says.
enum Start {
    Request(Method, super::Uri),
    Response(u16, String),
}

/// Parses the start line; `Err` carries the reason and status code.
fn start_line(line: &[u8]) -> Result<Start, (Why, u16)> {
    if is_response_line(line) {
        let (ver, rest) = split_at_byte(line, b' ').ok_or(("bad status line", 400))?;
        if !matches!(version(ver), Version::Ok) {
            return Err(("unsupported SIP version", 400));
        }
        let (code, reason) = match split_at_byte(rest, b' ') {
            Some((c, r)) => (c, r),
            None => (rest, &[][..]),
        };
        // Status-Code is exactly 3 digits, and only 100-699 exist (bigcode).
        let code = std::str::from_utf8(code)
            .ok()
            .filter(|c| c.len() == 3)
            .and_then(parse_u32)
            .filter(|c| (100..=699).contains(c))
            .ok_or(("bad status code", 400))?;
        if reason.iter().any(|&b| b.is_ascii_control() && b != b'\t') {
            return Err(("control character in reason phrase", 400));
        }
        // The range check above keeps the code within u16.
        let code = u16::try_from(code).map_err(|_| ("bad status code", 400))?;
        return Ok(Start::Response(
            code,
            String::from_utf8_lossy(reason).into_owned(),
        ));
    }
    // Request-Line = Method SP Request-URI SP SIP-Version: exactly one SP
    // between elements and none around them (lwsstart, trws, lwsruri).
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let [method, uri, ver] = parts.as_slice() else {
        return Err(("malformed request line", 400));
    };
    let method = std::str::from_utf8(method)
        .ok()
        .filter(|m| is_token(m))
        .ok_or(("bad method", 400))?;
    match version(ver) {
        Version::Ok => {}
        Version::Unsupported => return Err(("SIP version not supported", 505)),
        Version::Bad => return Err(("malformed request line", 400)),
    }
    let uri = std::str::from_utf8(uri)
        .map_err(|_| ("bad Request-URI", 400))
        .and_then(|u| parse_uri(u, UriContext::RequestLine).map_err(|why| (why, 400)))?;
    Ok(Start::Request(Method::parse(method), uri))
}

/// A status line starts with the SIP version; a request line with a method.
fn is_response_line(line: &[u8]) -> bool {
    line.get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
}

fn split_at_byte(s: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = s.iter().position(|&b| b == sep)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// The Content-Length, if any: `Ok(None)` when absent, `Err` when a value is
/// not `1*DIGIT` within u32 (ncl: negative) or values conflict (mcl01).
fn content_length(headers: &Headers) -> Result<Option<u32>, Why> {
    let mut found = None;
    for (_, v) in headers.0.iter().filter(|(n, _)| n == "Content-Length") {
        let n = parse_u32(v).ok_or("bad Content-Length")?;
        if found.is_some_and(|f| f != n) {
            return Err("conflicting Content-Length values");
        }
        found = Some(n);
    }
    Ok(found)
}

/// The header checks RFC 4475 expects of a parser. `method` is the request
/// method (None for responses).
fn validate(headers: &Headers, method: Option<&Method>) -> Result<(), (String, u16)> {
    let bad = |name: &str, why: Why| (format!("bad {name} header: {why}"), 400);
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        if !headers.contains(name) {
            return Err((format!("missing {name} header"), 400));
        }
    }
    // Single-valued headers appearing twice make the message ambiguous
    // (multi01); for these even identical repeats are refused.
    for name in ["From", "To", "Call-ID", "CSeq", "Max-Forwards"] {
        if headers.0.iter().filter(|(n, _)| n == name).count() > 1 {
            return Err((format!("duplicate {name} header"), 400));
        }
    }
    for name in ["Content-Type", "Expires"] {
        let mut values = headers.0.iter().filter(|(n, _)| n == name).map(|(_, v)| v);
        if let Some(first) = values.next()
            && values.any(|v| v != first)
        {
            return Err((format!("conflicting {name} headers"), 400));
        }
    }
    for (name, value) in &headers.0 {
        match name.as_str() {
            "Via" => {
                for via in split_top_level(value) {
                    parse_via(via).map_err(|why| bad(name, why))?;
                }
            }
            "From" | "To" => {
                parse_name_addr(value, false).map_err(|why| bad(name, why))?;
            }
            "Contact" | "Route" | "Record-Route" => {
                let items = split_top_level(value);
                let star = name == "Contact";
                for item in &items {
                    let na = parse_name_addr(item, star).map_err(|why| bad(name, why))?;
                    if na.star && (items.len() > 1 || headers.all("Contact").count() > 1) {
                        return Err(bad(name, "* must be the only contact"));
                    }
                }
            }
            "Call-ID" if !call_id_ok(value) => return Err(bad(name, "bad Call-ID")),
            "CSeq" => {
                let cseq = parse_cseq(value).map_err(|why| bad(name, why))?;
                if let Some(m) = method
                    && cseq.method != *m
                {
                    // RFC 4475 mismatch02: with an unknown request method,
                    // 501 is the better answer (400 also allowed).
                    let status = if matches!(m, Method::Other(_)) {
                        501
                    } else {
                        400
                    };
                    return Err(("CSeq method does not match request".to_owned(), status));
                }
            }
            // RFC 3261 §20.22: Max-Forwards is 0-255 (scalar02).
            "Max-Forwards" if parse_u32(value).is_none_or(|n| n > 255) => {
                return Err(bad(name, "out of range"));
            }
            // delta-seconds within 32 bits (scalar02).
            "Expires" if parse_u32(value).is_none() => return Err(bad(name, "out of range")),
            // Date is deliberately not checked: we never use it, and RFC 4475
            // baddate says a non-GMT zone may be ignored when unused.
            _ => {}
        }
    }
    Ok(())
}

/// Builds a `ParseError`, attaching whatever headers were read.
fn error(
    reason: impl Into<String>,
    status: u16,
    headers: &Headers,
    is_request: bool,
) -> ParseError {
    ParseError {
        reason: reason.into(),
        partial: (!headers.0.is_empty()).then(|| headers.clone()),
        is_request,
        status,
    }
}

/// See [`super::parse`].
pub fn parse(bytes: &[u8]) -> Result<Message, ParseError> {
    let from = leading_keepalive(bytes);
    if from >= bytes.len() {
        return Err(error("empty message", 400, &Headers::default(), false));
    }
    let env = envelope(bytes, from, true);
    let is_request = !is_response_line(env.start);
    let headers = Headers(env.headers);
    if matches!(env.start.first(), Some(b' ' | b'\t')) {
        return Err(error(
            "white space before start line",
            400,
            &headers,
            is_request,
        ));
    }
    if let Some(why) = env.error {
        return Err(error(why, 400, &headers, is_request));
    }
    let start =
        start_line(env.start).map_err(|(why, status)| error(why, status, &headers, is_request))?;
    let method = match &start {
        Start::Request(m, _) => Some(m),
        Start::Response(..) => None,
    };
    validate(&headers, method).map_err(|(why, status)| error(why, status, &headers, is_request))?;
    let body_at = env.body_at.unwrap_or(bytes.len());
    let available = bytes.get(body_at..).unwrap_or(&[]);
    let body =
        match content_length(&headers).map_err(|why| error(why, 400, &headers, is_request))? {
            // No Content-Length: over UDP the body runs to the end of the
            // datagram (RFC 3261 §18.3; inv2543).
            None => available,
            Some(n) => {
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                // Shorter than announced is an error (clerr); longer is cut at
                // Content-Length (dblreq: the extra "request" is ignored).
                available.get(..n).ok_or_else(|| {
                    error("Content-Length larger than body", 400, &headers, is_request)
                })?
            }
        }
        .to_vec();
    Ok(match start {
        Start::Request(method, uri) => Message::Request(Request {
            method,
            uri,
            headers,
            body,
        }),
        Start::Response(status, reason) => Message::Response(Response {
            status,
            reason,
            headers,
            body,
        }),
    })
}

/// See [`super::frame_length`].
pub fn frame_length(buf: &[u8]) -> Result<Option<usize>, ParseError> {
    let from = leading_keepalive(buf);
    if from >= buf.len() {
        return Ok(None);
    }
    let env = envelope(buf, from, false);
    let headers = Headers(env.headers);
    let is_request = !is_response_line(env.start);
    let Some(body_at) = env.body_at else {
        if buf.len() - from > MAX_HEADER_BYTES {
            return Err(error("header section too large", 400, &headers, is_request));
        }
        // A start line that cannot begin a SIP message means the stream is
        // out of step; say so now rather than waiting for a blank line.
        if !env.start.is_empty() && !plausible_start(env.start) {
            return Err(error("not a SIP start line", 400, &headers, is_request));
        }
        return Ok(None);
    };
    if body_at - from > MAX_HEADER_BYTES {
        return Err(error("header section too large", 400, &headers, is_request));
    }
    if !plausible_start(env.start) {
        return Err(error("not a SIP start line", 400, &headers, is_request));
    }
    // Over a stream, Content-Length is mandatory (RFC 3261 §18.3).
    let len = content_length(&headers)
        .map_err(|why| error(why, 400, &headers, is_request))?
        .ok_or_else(|| error("missing Content-Length", 400, &headers, is_request))?;
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    if len > MAX_STREAM_BODY {
        return Err(error("body too large", 413, &headers, is_request));
    }
    let total = body_at.saturating_add(len);
    Ok((buf.len() >= total).then_some(total))
}

/// Cheap shape check of a start line, enough to tell a desynchronised stream:
/// `SIP/x.y SP ...` or `token SP something SP SIP/...`.
fn plausible_start(line: &[u8]) -> bool {
    if is_response_line(line) {
        return line.contains(&b' ');
    }
    let mut parts = line.split(|&b| b == b' ');
    let method = parts.next().unwrap_or(&[]);
    !method.is_empty()
        && method.iter().all(|&b| is_token_byte(b))
        && line
            .rsplit(|&b| b == b' ')
            .next()
            .is_some_and(is_response_line)
}
