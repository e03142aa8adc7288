//! Hand-written RFC 3261 §25 value grammar: URIs, name-addr, Via, CSeq, parameters.
//!
//! Everything works on `&str` header values that the framing layer has already
//! unfolded, and walks them by byte index with `get`, never by unchecked slicing.
//! Errors are short static reasons; the caller adds which header they came from.

use super::{CSeq, Method, NameAddr, Uri, Via};

/// Why a value did not parse: a short phrase for a 400 reason.
pub(super) type Why = &'static str;

/// RFC 3261 `token` characters.
pub(in crate::sip) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// A non-empty string made only of `token` characters.
pub(super) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

/// RFC 3261 `unreserved` (alphanum / mark).
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b)
}

/// Linear white space inside a header value (folding is already undone).
fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Trims SP and HTAB (not other Unicode white space) from both ends.
pub(super) fn trim_ws(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// Index of the first non-SP/HTAB byte at or after `i`.
fn skip_ws(s: &str, mut i: usize) -> usize {
    while s.as_bytes().get(i).is_some_and(|&b| is_ws(b)) {
        i += 1;
    }
    i
}

/// Index just past the run of bytes matching `pred` starting at `i`.
fn take_while(s: &str, mut i: usize, pred: impl Fn(u8) -> bool) -> usize {
    while s.as_bytes().get(i).is_some_and(|&b| pred(b)) {
        i += 1;
    }
    i
}

/// `%XX` escapes are well formed: every `%` is followed by two hex digits.
fn escapes_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let ok = b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

/// Percent-decodes; a `%` not followed by two hex digits stays literal.
/// Invalid UTF-8 after decoding becomes U+FFFD (the API hands out `String`s).
pub(super) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = |j: usize| b.get(j).and_then(|&h| (h as char).to_digit(16));
        match (c, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                // Two hex digits are at most 0xFF, so this fits a byte.
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits on commas that are outside quoted strings and `<...>`, keeping empty
/// pieces (so the validator can reject `a,,b`); pieces are trimmed of SP/HTAB.
pub(super) fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut it = TopLevelSplit::new(s);
    while let Some(piece) = it.next_piece() {
        out.push(piece);
    }
    out
}

/// Iterator over the comma-separated elements of a list header value.
pub(super) struct TopLevelSplit<'a> {
    rest: Option<&'a str>,
}

impl<'a> TopLevelSplit<'a> {
    pub(super) fn new(s: &'a str) -> Self {
        Self { rest: Some(s) }
    }

    /// The next piece, empty ones included.
    fn next_piece(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        let b = s.as_bytes();
        let (mut quoted, mut escaped, mut depth) = (false, false, 0u32);
        for (i, &c) in b.iter().enumerate() {
            if quoted {
                match c {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => quoted = false,
                    _ => {}
                }
                continue;
            }
            match c {
                b'"' => quoted = true,
                b'<' => depth = depth.saturating_add(1),
                b'>' => depth = depth.saturating_sub(1),
                b',' if depth == 0 => {
                    self.rest = s.get(i + 1..);
                    return s.get(..i).map(trim_ws);
                }
                _ => {}
            }
        }
        self.rest = None;
        Some(trim_ws(s))
    }
}

impl<'a> Iterator for TopLevelSplit<'a> {
    type Item = &'a str;

    /// Non-empty pieces only: `Headers::all` should not yield blanks.
    fn next(&mut self) -> Option<&'a str> {
        loop {
            let piece = self.next_piece()?;
            if !piece.is_empty() {
                return Some(piece);
            }
        }
    }
}

/// Parses a quoted string starting at byte `i` (which must be `"`).
/// Returns the unescaped content and the index just past the closing quote.
fn quoted_string(s: &str, i: usize) -> Result<(String, usize), Why> {
    if s.as_bytes().get(i) != Some(&b'"') {
        return Err("expected a quoted string");
    }
    let body = s.get(i + 1..).ok_or("unterminated quoted string")?;
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((j, c)) = chars.next() {
        match c {
            '"' => return Ok((out, i + 1 + j + 1)),
            '\\' => match chars.next() {
                // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
                Some((_, q)) if q.is_ascii() && q != '\r' && q != '\n' => out.push(q),
                _ => return Err("bad escape in quoted string"),
            },
            // qdtext excludes raw control characters other than LWS.
            c if c.is_ascii_control() && c != '\t' => {
                return Err("control character in quoted string");
            }
            c => out.push(c),
        }
    }
    Err("unterminated quoted string")
}

/// Index just past a quoted string starting at `i`, for raw copying.
fn skip_quoted(s: &str, i: usize) -> Result<usize, Why> {
    quoted_string(s, i).map(|(_, end)| end)
}

/// Checks an RFC 3261 `host`: hostname, IPv4address or `[` IPv6address `]`.
pub(super) fn host_ok(h: &str) -> bool {
    if let Some(inner) = h.strip_prefix('[') {
        return inner
            .strip_suffix(']')
            .is_some_and(|v6| v6.parse::<std::net::Ipv6Addr>().is_ok());
    }
    if h.is_empty() || h.len() > 255 {
        return false;
    }
    // All digits and dots: only an IPv4 address can look like that.
    if h.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return h.parse::<std::net::Ipv4Addr>().is_ok();
    }
    let h = h.strip_suffix('.').unwrap_or(h);
    // Underscores are not in the grammar but real hosts use them; accept.
    h.split('.').all(|label| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// Splits `host[:port]` (IPv6 references keep their brackets).
fn host_port(hp: &str) -> Result<(String, Option<u16>), Why> {
    let (host, port) = if hp.starts_with('[') {
        let close = hp.find(']').ok_or("unterminated IPv6 reference")?;
        let host = hp.get(..=close).ok_or("bad host")?;
        let rest = hp.get(close + 1..).unwrap_or("");
        match rest.strip_prefix(':') {
            Some(p) => (host, Some(p)),
            None if rest.is_empty() => (host, None),
            None => return Err("junk after IPv6 reference"),
        }
    } else {
        match hp.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hp, None),
        }
    };
    if !host_ok(host) {
        return Err("bad host");
    }
    let port = match port {
        None => None,
        Some(p) => Some(parse_port(p)?),
    };
    Ok((host.to_owned(), port))
}

/// `1*DIGIT` that fits a u16.
fn parse_port(p: &str) -> Result<u16, Why> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err("bad port");
    }
    p.parse().map_err(|_| "port out of range")
}

/// `1*DIGIT` parsed as u32: no sign, no spaces, out-of-range is an error.
pub(super) fn parse_u32(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Where a URI appears: the Request-URI forbids embedded headers (RFC 3261
/// §19.1.1 table 1; torture test escruri).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum UriContext {
    RequestLine,
    Header,
}

/// Parses any absolute URI; SIP, SIPS and tel get a full parse, other
/// schemes are only checked for URI characters (and `//host:port` extracted).
pub(super) fn parse_uri(raw: &str, ctx: UriContext) -> Result<Uri, Why> {
    let (scheme, rest) = raw.split_once(':').ok_or("URI has no scheme")?;
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok {
        return Err("bad URI scheme");
    }
    if rest.is_empty() {
        return Err("empty URI");
    }
    let scheme = scheme.to_ascii_lowercase();
    let mut uri = match scheme.as_str() {
        "sip" | "sips" => sip_uri(rest, ctx)?,
        "tel" => tel_uri(rest)?,
        _ => other_uri(rest)?,
    };
    uri.scheme = scheme;
    uri.raw = raw.to_owned();
    Ok(uri)
}

/// `[userinfo "@"] hostport uri-parameters [headers]` after `sip:`.
fn sip_uri(s: &str, ctx: UriContext) -> Result<Uri, Why> {
    // The user part may contain ';', '?' and '/', but never an unescaped '@',
    // and nothing after the user part may contain '@' either.
    let (userinfo, rest) = match s.split_once('@') {
        Some((u, r)) => (Some(u), r),
        None => (None, s),
    };
    let user = match userinfo {
        None => None,
        Some(ui) => {
            let (user, password) = match ui.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (ui, None),
            };
            // '#' is not in the RFC 3261 user grammar, but phones send
            // feature codes like sip:#31#@pbx unescaped; refusing them helps no one.
            let user_ok = !user.is_empty()
                && escapes_ok(user)
                && user
                    .bytes()
                    .all(|b| is_unreserved(b) || b"%&=+$,;?/#".contains(&b));
            if !user_ok {
                return Err("bad user part in URI");
            }
            let pw_ok = password.is_none_or(|p| {
                escapes_ok(p)
                    && p.bytes()
                        .all(|b| is_unreserved(b) || b"%&=+$,".contains(&b))
            });
            if !pw_ok {
                return Err("bad password in URI");
            }
            Some(percent_decode(user))
        }
    };
    let (before_headers, headers) = match rest.split_once('?') {
        Some((b, h)) => (b, Some(h)),
        None => (rest, None),
    };
    if headers.is_some() && ctx == UriContext::RequestLine {
        return Err("Request-URI must not contain headers");
    }
    if let Some(h) = headers {
        let ok = escapes_ok(h)
            && h.split('&').all(|pair| {
                let (n, _) = pair.split_once('=').unwrap_or((pair, ""));
                !n.is_empty()
            })
            && h.bytes()
                .all(|b| is_unreserved(b) || b"%[]/?:+$&=".contains(&b));
        if !ok {
            return Err("bad headers in URI");
        }
    }
    let mut parts = before_headers.split(';');
    let (host, port) = host_port(parts.next().unwrap_or(""))?;
    let mut params = Vec::new();
    for p in parts {
        let (name, value) = match p.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (p, None),
        };
        let pchar_ok = |x: &str| {
            !x.is_empty()
                && escapes_ok(x)
                && x.bytes()
                    .all(|b| is_unreserved(b) || b"%[]/:&+$".contains(&b))
        };
        if !pchar_ok(name) || !value.is_none_or(pchar_ok) {
            return Err("bad URI parameter");
        }
        params.push((percent_decode(name), value.map(percent_decode)));
    }
    Ok(Uri {
        user,
        host,
        port,
        params,
        ..Uri::default()
    })
}

/// Characters RFC 2396 allows in a URI (uric plus `[` `]` for IPv6 hosts).
fn is_uric(b: u8) -> bool {
    is_unreserved(b) || b";/?:@&=+$,%[]".contains(&b)
}

/// `tel:` (RFC 3966): the number goes in `user`, parameters are split off.
fn tel_uri(s: &str) -> Result<Uri, Why> {
    // RFC 3966 local numbers may contain '#' (a DTMF digit).
    if !escapes_ok(s) || !s.bytes().all(|b| is_uric(b) || b == b'#') {
        return Err("bad tel URI");
    }
    let mut parts = s.split(';');
    let number = parts.next().unwrap_or("");
    if number.is_empty() {
        return Err("bad tel URI");
    }
    let mut params = Vec::new();
    for p in parts {
        let (n, v) = match p.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (p, None),
        };
        if n.is_empty() {
            return Err("bad tel URI parameter");
        }
        params.push((percent_decode(n), v.map(percent_decode)));
    }
    Ok(Uri {
        user: Some(percent_decode(number)),
        params,
        ..Uri::default()
    })
}

/// Any other scheme: opaque, but the characters must be URI characters; a
/// `//authority` gives `host` and `port` when it parses (else they stay empty).
fn other_uri(s: &str) -> Result<Uri, Why> {
    if !escapes_ok(s) || !s.bytes().all(is_uric) {
        return Err("bad URI");
    }
    let mut uri = Uri::default();
    if let Some(auth) = s.strip_prefix("//") {
        let end = auth.find(['/', '?', ';']).unwrap_or(auth.len());
        let auth = auth.get(..end).unwrap_or("");
        let hp = auth.rsplit_once('@').map_or(auth, |(_, hp)| hp);
        if let Ok((host, port)) = host_port(hp) {
            uri.host = host;
            uri.port = port;
        }
    }
    Ok(uri)
}

/// Parses `*( SEMI generic-param )` from `s[i..]`, allowing LWS around `;`
/// and `=`. Values keep their quotes if quoted. Empty parameters
/// (`;;`, trailing `;`) are errors (torture test badinv01).
fn header_params(s: &str, mut i: usize) -> Result<Vec<(String, Option<String>)>, Why> {
    let b = s.as_bytes();
    let mut params = Vec::new();
    loop {
        i = skip_ws(s, i);
        match b.get(i) {
            None => return Ok(params),
            Some(b';') => i += 1,
            Some(_) => return Err("junk after value"),
        }
        i = skip_ws(s, i);
        let name_end = take_while(s, i, is_token_byte);
        let name = s.get(i..name_end).unwrap_or("");
        if name.is_empty() {
            return Err("empty parameter");
        }
        i = skip_ws(s, name_end);
        let mut value = None;
        if b.get(i) == Some(&b'=') {
            i = skip_ws(s, i + 1);
            let end = if b.get(i) == Some(&b'"') {
                skip_quoted(s, i)?
            } else {
                // gen-value = token / host / quoted-string
                take_while(s, i, |c| {
                    is_token_byte(c) || c == b':' || c == b'[' || c == b']'
                })
            };
            let v = s.get(i..end).unwrap_or("");
            if v.is_empty() {
                return Err("empty parameter value");
            }
            value = Some(v.to_owned());
            i = end;
        }
        params.push((name.to_owned(), value));
    }
}

/// Parses the `name=value` list of a Digest `Authorization` value (RFC 3261 §25.1
/// `digest-response`, RFC 7616 §3.4) after its scheme. A value is a quoted string,
/// unescaped as [`quoted_string`] does, or bare text up to the next comma or space
/// (tokens, and the unquoted URIs some phones send). Empty list elements are allowed.
pub(in crate::sip) fn auth_params(s: &str) -> Result<Vec<(String, String)>, Why> {
    let b = s.as_bytes();
    let mut params = Vec::new();
    let mut i = 0;
    loop {
        i = take_while(s, i, |c| is_ws(c) || c == b',');
        if i >= b.len() {
            return Ok(params);
        }
        let name_end = take_while(s, i, is_token_byte);
        let name = s.get(i..name_end).unwrap_or("");
        if name.is_empty() {
            return Err("expected a parameter name");
        }
        i = skip_ws(s, name_end);
        if b.get(i) != Some(&b'=') {
            return Err("expected = after a parameter name");
        }
        i = skip_ws(s, i + 1);
        let value = if b.get(i) == Some(&b'"') {
            let (value, end) = quoted_string(s, i)?;
            i = end;
            value
        } else {
            let end = take_while(s, i, |c| !is_ws(c) && c != b',' && c != b'"');
            let value = s.get(i..end).unwrap_or("");
            if value.is_empty() {
                return Err("empty parameter value");
            }
            i = end;
            value.to_owned()
        };
        i = skip_ws(s, i);
        if b.get(i).is_some_and(|&c| c != b',') {
            return Err("junk after a parameter");
        }
        params.push((name.to_owned(), value));
    }
}

/// Parses one name-addr / addr-spec element (From, To, one Contact, one Route).
pub(super) fn parse_name_addr(v: &str, allow_star: bool) -> Result<NameAddr, Why> {
    let v = trim_ws(v);
    if v == "*" {
        return if allow_star {
            Ok(NameAddr {
                star: true,
                ..NameAddr::default()
            })
        } else {
            Err("unexpected *")
        };
    }
    let b = v.as_bytes();
    let (display, lt) = if b.first() == Some(&b'"') {
        let (d, end) = quoted_string(v, 0)?;
        let lt = skip_ws(v, end);
        if b.get(lt) != Some(&b'<') {
            return Err("display name must be followed by <URI>");
        }
        (Some(d), lt)
    } else if let Some(lt) = v.find('<') {
        // An unquoted display name is *(token LWS) (torture test baddn);
        // no LWS is needed before '<' (lwsdisp, an erratum of RFC 3261).
        let words = trim_ws(v.get(..lt).unwrap_or(""));
        let tokens: Vec<&str> = words.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
        if !tokens.iter().all(|t| is_token(t)) {
            return Err("display name must be quoted");
        }
        let display = (!tokens.is_empty()).then(|| tokens.join(" "));
        (display, lt)
    } else {
        // addr-spec: the URI stops at ';' or LWS; anything after is a header
        // parameter, so a URI with ',', '?' or ';' needs <> (regbadct, cparam01).
        let end = v.find([';', ' ', '\t']).unwrap_or(v.len());
        let raw = v.get(..end).unwrap_or("");
        if raw.contains(['?', ',', '<', '>', '"']) {
            return Err("URI with ? or , must be enclosed in <>");
        }
        let uri = parse_uri(raw, UriContext::Header)?;
        let params = header_params(v, end)?;
        return Ok(NameAddr {
            display: None,
            uri,
            params,
            star: false,
        });
    };
    let gt_rel = v.get(lt..).and_then(|r| r.find('>')).ok_or("missing >")?;
    let gt = lt + gt_rel;
    let raw = v.get(lt + 1..gt).unwrap_or("");
    // RFC 3261 LAQUOT/RAQUOT allow no space inside the brackets (badaspec).
    if raw.is_empty() || raw.bytes().any(|c| is_ws(c) || c == b'<' || c == b'"') {
        return Err("bad URI inside <>");
    }
    let uri = parse_uri(raw, UriContext::Header)?;
    let params = header_params(v, gt + 1)?;
    Ok(NameAddr {
        display,
        uri,
        params,
        star: false,
    })
}

/// Parses one via-parm: `SIP / 2.0 / transport sent-by *(; via-params)`,
/// with LWS allowed around `/`, `:`, `;` and `=` (torture test wsinv).
pub(super) fn parse_via(v: &str) -> Result<Via, Why> {
    let raw = trim_ws(v);
    let b = raw.as_bytes();
    let mut i = 0;
    let mut fields = [""; 3];
    for (n, field) in fields.iter_mut().enumerate() {
        if n > 0 {
            i = skip_ws(raw, i);
            if b.get(i) != Some(&b'/') {
                return Err("bad sent-protocol");
            }
            i = skip_ws(raw, i + 1);
        }
        let end = take_while(raw, i, is_token_byte);
        *field = raw.get(i..end).unwrap_or("");
        if field.is_empty() {
            return Err("bad sent-protocol");
        }
        i = end;
    }
    let [protocol, _version, transport] = fields;
    if !protocol.eq_ignore_ascii_case("SIP") {
        return Err("protocol is not SIP");
    }
    let after_proto = skip_ws(raw, i);
    if after_proto == i {
        return Err("missing sent-by");
    }
    i = after_proto;
    let host_end = if b.get(i) == Some(&b'[') {
        raw.get(i..)
            .and_then(|r| r.find(']'))
            .map(|j| i + j + 1)
            .ok_or("bad host")?
    } else {
        take_while(raw, i, |c| c.is_ascii_alphanumeric() || b"-._".contains(&c))
    };
    let host = raw.get(i..host_end).unwrap_or("");
    if !host_ok(host) {
        return Err("bad sent-by host");
    }
    i = skip_ws(raw, host_end);
    let mut port = None;
    if b.get(i) == Some(&b':') {
        i = skip_ws(raw, i + 1);
        let end = take_while(raw, i, |c| c.is_ascii_digit());
        port = Some(parse_port(raw.get(i..end).unwrap_or(""))?);
        i = end;
    }
    let params = header_params(raw, i)?;
    let find = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let rport = match find("rport") {
        None => None,
        Some(None) => Some(None),
        Some(Some(p)) => Some(Some(parse_port(&p)?)),
    };
    Ok(Via {
        transport: transport.to_ascii_uppercase(),
        host: host.to_owned(),
        port,
        branch: find("branch").flatten(),
        received: find("received").flatten(),
        rport,
        raw: raw.to_owned(),
    })
}

/// `CSeq: 1*DIGIT LWS Method`; the number must fit 32 bits (scalar02).
pub(super) fn parse_cseq(v: &str) -> Result<CSeq, Why> {
    let v = trim_ws(v);
    let digits_end = take_while(v, 0, |c| c.is_ascii_digit());
    let seq = parse_u32(v.get(..digits_end).unwrap_or("")).ok_or("bad sequence number")?;
    let m_start = skip_ws(v, digits_end);
    if m_start == digits_end {
        return Err("missing method");
    }
    let method = v.get(m_start..).unwrap_or("");
    if !is_token(method) {
        return Err("bad method");
    }
    Ok(CSeq {
        seq,
        method: Method::parse(method),
    })
}

/// `Call-ID: word ["@" word]`: no white space or control characters.
pub(super) fn call_id_ok(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic() || b >= 0x80)
}
