//! Header name spellings, compact forms, list-valued headers and reason phrases.

/// Full name and compact form (RFC 3261 §7.3.3 and the extensions' RFCs).
const COMPACT: [(&str, char); 20] = [
    ("Accept-Contact", 'a'),
    ("Referred-By", 'b'),
    ("Content-Type", 'c'),
    ("Request-Disposition", 'd'),
    ("Content-Encoding", 'e'),
    ("From", 'f'),
    ("Call-ID", 'i'),
    ("Reject-Contact", 'j'),
    ("Supported", 'k'),
    ("Content-Length", 'l'),
    ("Contact", 'm'),
    ("Identity-Info", 'n'),
    ("Event", 'o'),
    ("Refer-To", 'r'),
    ("Subject", 's'),
    ("To", 't'),
    ("Allow-Events", 'u'),
    ("Via", 'v'),
    ("Session-Expires", 'x'),
    ("Identity", 'y'),
];

/// Other header names we spell canonically whatever case they arrive in.
const KNOWN: [&str; 46] = [
    "Accept",
    "Accept-Encoding",
    "Accept-Language",
    "Alert-Info",
    "Allow",
    "Authentication-Info",
    "Authorization",
    "Call-Info",
    "Content-Disposition",
    "Content-Language",
    "CSeq",
    "Date",
    "Error-Info",
    "Expires",
    "In-Reply-To",
    "Max-Forwards",
    "MIME-Version",
    "Min-Expires",
    "Min-SE",
    "Organization",
    "P-Asserted-Identity",
    "P-Preferred-Identity",
    "Path",
    "Priority",
    "Privacy",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Proxy-Require",
    "RAck",
    "Reason",
    "Record-Route",
    "Replaces",
    "Reply-To",
    "Require",
    "Retry-After",
    "Route",
    "RSeq",
    "Server",
    "Service-Route",
    "Subscription-State",
    "Timestamp",
    "Unsupported",
    "User-Agent",
    "Warning",
    "WWW-Authenticate",
    "Content-Transfer-Encoding",
];

/// Headers whose values are comma-separated lists (RFC 3261 §7.3.1): `all`
/// yields each element.
pub(super) const LIST_HEADERS: [&str; 22] = [
    "Via",
    "Contact",
    "Route",
    "Record-Route",
    "Allow",
    "Supported",
    "Require",
    "Proxy-Require",
    "Unsupported",
    "Accept",
    "Accept-Encoding",
    "Accept-Language",
    "Allow-Events",
    "Content-Encoding",
    "Content-Language",
    "In-Reply-To",
    "Path",
    "Service-Route",
    "Warning",
    "Alert-Info",
    "Call-Info",
    "Error-Info",
];

/// The canonical spelling of a header name: compact forms expanded, known
/// names in their usual case, unknown names unchanged.
pub(super) fn canonical_name(name: &str) -> String {
    if let [b] = name.as_bytes() {
        let c = b.to_ascii_lowercase() as char;
        if let Some((full, _)) = COMPACT.iter().find(|(_, short)| *short == c) {
            return (*full).to_owned();
        }
    }
    COMPACT
        .iter()
        .map(|(full, _)| full)
        .chain(KNOWN.iter())
        .find(|known| known.eq_ignore_ascii_case(name))
        .map_or_else(|| name.to_owned(), |known| (*known).to_owned())
}

/// The standard reason phrase for a status code ("Unknown" if none).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        199 => "Early Dialog Terminated",
        200 => "OK",
        202 => "Accepted",
        204 => "No Notification",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        305 => "Use Proxy",
        380 => "Alternative Service",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        422 => "Session Interval Too Small",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        489 => "Bad Event",
        491 => "Request Pending",
        493 => "Undecipherable",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        580 => "Precondition Failure",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => "Unknown",
    }
}
