//! Who may open a TCP connection: a cap on connections in all, so the process keeps
//! file descriptors for calls, and a cap per source (an IPv6 /64 is one source), so
//! one client cannot take them all.

use super::source_guard::source_key;
use std::collections::HashMap;
use std::net::IpAddr;

/// Why a connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The server holds its maximum of connections.
    Total,
    /// This source holds its maximum.
    PerSource,
}

/// Counts open connections against the caps.
#[derive(Debug)]
pub struct TcpAdmission {
    max_total: u32,
    per_source: u32,
    total: u32,
    by_source: HashMap<IpAddr, u32>,
}

impl TcpAdmission {
    /// Caps of `max_total` connections, `per_source` from one source.
    pub fn new(max_total: u32, per_source: u32) -> TcpAdmission {
        TcpAdmission {
            max_total,
            per_source,
            total: 0,
            by_source: HashMap::new(),
        }
    }

    /// Counts a new connection from `ip`, or says why it may not be kept.
    pub fn admit(&mut self, ip: IpAddr) -> Result<(), Refusal> {
        if self.total >= self.max_total {
            return Err(Refusal::Total);
        }
        let held = self.by_source.entry(source_key(ip)).or_insert(0);
        if *held >= self.per_source {
            return Err(Refusal::PerSource);
        }
        *held += 1;
        self.total += 1;
        Ok(())
    }

    /// A connection admitted from `ip` has closed.
    pub fn release(&mut self, ip: IpAddr) {
        let key = source_key(ip);
        if let Some(held) = self.by_source.get_mut(&key) {
            *held -= 1;
            if *held == 0 {
                self.by_source.remove(&key);
            }
            self.total -= 1;
        }
    }

    /// Connections open now.
    pub fn open(&self) -> u32 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn caps_hold_and_release_frees_room() {
        let mut a = TcpAdmission::new(5, 2);
        assert_eq!(a.admit(v4(1)), Ok(()));
        assert_eq!(a.admit(v4(1)), Ok(()));
        assert_eq!(a.admit(v4(1)), Err(Refusal::PerSource));
        for last in 2..=4 {
            assert_eq!(a.admit(v4(last)), Ok(()));
        }
        assert_eq!(a.admit(v4(9)), Err(Refusal::Total));
        assert_eq!(a.open(), 5);
        a.release(v4(1));
        assert_eq!(a.admit(v4(9)), Ok(()));
        // A release of a source that holds nothing changes nothing.
        a.release(v4(77));
        assert_eq!(a.open(), 5);
    }

    #[test]
    fn an_ipv6_64_is_one_source() {
        let mut a = TcpAdmission::new(100, 2);
        let host = |last: u16| IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, last]);
        assert_eq!(a.admit(host(1)), Ok(()));
        assert_eq!(a.admit(host(2)), Ok(()));
        assert_eq!(a.admit(host(3)), Err(Refusal::PerSource));
        let next_64 = IpAddr::from([0x2001, 0xdb8, 0, 2, 0, 0, 0, 1]);
        assert_eq!(a.admit(next_64), Ok(()));
        a.release(host(3));
        assert_eq!(a.admit(host(4)), Ok(()));
    }
}
