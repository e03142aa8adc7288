//! Nonces that carry their own issue time and serial number, authenticated with
//! HMAC-SHA-256, so checking one needs no lookup.

use super::algorithm::from_hex;
use crate::clock::{Duration, Timestamp};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::fmt;
use subtle::ConstantTimeEq;

/// What [`Nonces::check`] makes of a nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceState {
    /// Ours and within its lifetime; `serial` tells it from every other nonce we issued.
    Valid {
        /// The nonce's serial number, for the replay table.
        serial: u64,
    },
    /// Ours but too old (or too far ahead): challenge again with `stale=true`.
    Stale,
    /// Not ours: forged, tampered with, from another key, or garbage.
    Invalid,
}

/// Mints and checks nonces.
///
/// A nonce is 64 lowercase hex digits: the issue time (ms, 8 bytes big-endian), a
/// serial number (8 bytes, one more for each nonce minted), and HMAC-SHA-256 over both
/// under the key, truncated to 16 bytes. The serial keys the replay table; nonces are
/// not bound to a realm or a source address.
#[derive(Clone)]
pub struct Nonces {
    key: [u8; 32],
    lifetime: Duration,
    next_serial: u64,
}

/// Domain separation, so this key's MACs mean nothing anywhere else.
const NONCE_LABEL: &[u8] = b"pbxctl/sip/nonce/v2";
const NONCE_MAC_LEN: usize = 16;

impl Nonces {
    /// A nonce authority with a secret `key` whose nonces last `lifetime` (negative
    /// counts as zero).
    pub fn new(key: [u8; 32], lifetime: Duration) -> Self {
        Nonces {
            key,
            lifetime: Duration(lifetime.0.max(0)),
            next_serial: 0,
        }
    }

    /// A fresh random key, for servers that do not share nonces across restarts or nodes.
    pub fn generate_key() -> [u8; 32] {
        rand::random()
    }

    /// How long a nonce may be used.
    pub fn set_lifetime(&mut self, lifetime: Duration) {
        self.lifetime = Duration(lifetime.0.max(0));
    }

    /// A new nonce issued at `now`, and its serial number.
    pub fn mint(&mut self, now: Timestamp) -> (String, u64) {
        let serial = self.next_serial;
        self.next_serial = self.next_serial.wrapping_add(1);
        let issued = now.0.to_be_bytes();
        let serial_bytes = serial.to_be_bytes();
        let mac = self.mac(&issued, &serial_bytes);
        let mut nonce = String::with_capacity(64);
        nonce.push_str(&hex::encode(issued));
        nonce.push_str(&hex::encode(serial_bytes));
        nonce.push_str(&hex::encode(mac));
        (nonce, serial)
    }

    /// Whether `nonce` is ours and fresh at `now`.
    ///
    /// Age is taken in absolute value, so a nonce from the future (a clock
    /// stepped back) is valid for at most `lifetime` too.
    pub fn check(&self, nonce: &str, now: Timestamp) -> NonceState {
        if nonce.len() != 64 {
            return NonceState::Invalid;
        }
        let Some(bytes) = from_hex(nonce) else {
            return NonceState::Invalid;
        };
        let (issued, rest) = bytes.split_at(8);
        let (serial, mac) = rest.split_at(8);
        if !bool::from(self.mac(issued, serial).ct_eq(mac)) {
            return NonceState::Invalid;
        }
        let age = now.0.abs_diff(i64::from_be_bytes(eight(issued)));
        if age <= self.lifetime.0.unsigned_abs() {
            NonceState::Valid {
                serial: u64::from_be_bytes(eight(serial)),
            }
        } else {
            NonceState::Stale
        }
    }

    fn mac(&self, issued: &[u8], serial: &[u8]) -> [u8; NONCE_MAC_LEN] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(NONCE_LABEL);
        mac.update(issued);
        mac.update(serial);
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; NONCE_MAC_LEN];
        out.copy_from_slice(&full[..NONCE_MAC_LEN]);
        out
    }
}

fn eight(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(bytes);
    out
}

// By hand, so the key never reaches a log line.
impl fmt::Debug for Nonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Nonces")
            .field("key", &"<redacted>")
            .field("lifetime", &self.lifetime)
            .field("next_serial", &self.next_serial)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_expire_and_resist_tampering() {
        let mut nonces = Nonces::new([7; 32], Duration::seconds(30));
        let t0 = Timestamp(1_772_355_600_000);
        let (nonce, serial) = nonces.mint(t0);
        assert_eq!(nonce.len(), 64);
        let (second, next) = nonces.mint(t0);
        assert_ne!(nonce, second, "same millisecond, another serial");
        assert_eq!(next, serial + 1);

        assert_eq!(nonces.check(&nonce, t0), NonceState::Valid { serial });
        let limit = t0.after(Duration::seconds(30));
        assert_eq!(nonces.check(&nonce, limit), NonceState::Valid { serial });
        assert_eq!(
            nonces.check(&nonce, limit.after(Duration(1))),
            NonceState::Stale
        );
        assert_eq!(
            nonces.check(&nonce, Timestamp(t0.0 - 30_000)),
            NonceState::Valid { serial }
        );
        assert_eq!(
            nonces.check(&nonce, Timestamp(t0.0 - 30_001)),
            NonceState::Stale
        );

        // Every single-character change, in time, serial or MAC, is caught.
        for i in 0..nonce.len() {
            let mut tampered = nonce.clone().into_bytes();
            tampered[i] = if tampered[i] == b'0' { b'1' } else { b'0' };
            let tampered = String::from_utf8(tampered).unwrap();
            assert_eq!(nonces.check(&tampered, t0), NonceState::Invalid, "{i}");
        }
        // Moving the time forward to extend the lifetime does not work either.
        let later = format!(
            "{}{}",
            hex::encode((t0.0 + 60_000).to_be_bytes()),
            &nonce[16..]
        );
        assert_eq!(
            nonces.check(&later, t0.after(Duration::seconds(60))),
            NonceState::Invalid
        );

        let other = Nonces::new([8; 32], Duration::seconds(30));
        assert_eq!(other.check(&nonce, t0), NonceState::Invalid);

        let longer = format!("{nonce}0");
        let upper = nonce.to_uppercase();
        let zs = "z".repeat(64);
        for garbage in [
            "",
            "nonce",
            &nonce[..63],
            longer.as_str(),
            upper.as_str(),
            "éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé",
            zs.as_str(),
        ] {
            assert_eq!(nonces.check(garbage, t0), NonceState::Invalid, "{garbage}");
        }
    }

    #[test]
    fn the_mac_is_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2, through the same crate and calls the nonces use.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya ");
        mac.update(b"want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn debug_redacts_the_key() {
        let shown = format!("{:?}", Nonces::new([0xab; 32], Duration::seconds(30)));
        assert!(
            !shown.contains("171") && !shown.contains("ab, ab"),
            "{shown}"
        );
    }
}
