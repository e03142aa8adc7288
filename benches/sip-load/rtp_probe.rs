//! RTP for `benches/sip-load.sh`'s bridged calls: plays both phones of every call and
//! measures what the PBX's relay does to their audio.
//!
//! SIPp sets the calls up (`bridge-caller.xml`, `bridge-callee.xml`) and logs, for each
//! leg, the port its SDP offered and the port the PBX's SDP answered. This probe binds
//! those ports and sends a G.711 packet every 20 ms from each, carrying who sent it,
//! its number and when; whatever the relay delivers is counted at the other phone.
//!
//! Usage: `rtp-probe CALLER_LOG CALLEE_LOG SECONDS [THREADS]`, each log line being
//! `<our port> <the PBX's port>`. Prints one line per direction:
//! `<direction> legs=N sent=N received=N lost=N foreign=N transit_p50_ms=… transit_p99_ms=…
//! transit_max_ms=… jitter_p99_ms=…`, where jitter is RFC 3550's transit difference
//! between consecutive packets of one stream (what the relay adds to the senders' even
//! pacing).
//!
//! `rtp-probe --direct CALLER_LOG CALLEE_LOG SECONDS [THREADS]` is the baseline: the n-th
//! caller and the n-th callee send to each other, the PBX left out, so what it measures
//! is the probe's own cost and timing.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::watch;

/// Marks our packets' payload, so the PBX's own audio (a prompt, a tone) is told apart.
const MAGIC: u32 = 0x5042_5850;
/// 20 ms of G.711 at 8 kHz.
const SAMPLES: usize = 160;
const PACKET_INTERVAL: Duration = Duration::from_millis(20);
/// How long packets still in flight are waited for after the last is sent.
const LINGER: Duration = Duration::from_millis(500);

/// One phone's end of a call: where it sends from, and the PBX's port for it.
struct Leg {
    local: u16,
    pbx: u16,
}

/// What one phone heard.
#[derive(Default)]
struct Heard {
    /// Packets received, by sending stream.
    received: HashMap<u32, u64>,
    /// Each packet's transit time, in microseconds.
    transit: Vec<u32>,
    /// |transit difference| between consecutive packets of a stream, microseconds.
    jitter: Vec<u32>,
    /// Packets not ours.
    foreign: u64,
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let direct = args.first().is_some_and(|a| a == "--direct");
    if direct {
        args.remove(0);
    }
    let (callers, callees, seconds, threads) = match &args[..] {
        [a, b, s, rest @ ..] if rest.len() <= 1 => {
            let threads = rest.first().map_or(Ok(1), |t| t.parse::<usize>());
            match (s.parse::<u64>(), threads) {
                (Ok(s), Ok(t)) if s > 0 && t > 0 => (read_legs(a), read_legs(b), s, t),
                _ => usage(),
            }
        }
        _ => usage(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let epoch = Instant::now();
        let (stop, stopped) = watch::channel(false);
        let caller_ids = 0..callers.len() as u32;
        let callee_ids = callers.len() as u32..(callers.len() + callees.len()) as u32;
        // Every socket is bound before any sends: a packet relayed to a phone not yet
        // listening would be lost, and counted against the relay.
        let mut callers = bind(&callers).await;
        let mut callees = bind(&callees).await;
        if direct {
            if callers.len() != callees.len() {
                eprintln!(
                    "error: --direct pairs callers with callees: their logs differ in length"
                );
                std::process::exit(1);
            }
            for (a, b) in callers.iter_mut().zip(callees.iter_mut()) {
                a.1 = b.0.local_addr().expect("a bound socket");
                b.1 = a.0.local_addr().expect("a bound socket");
            }
        }
        let callers = start(callers, caller_ids, epoch, &stopped);
        let callees = start(callees, callee_ids, epoch, &stopped);
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.send(true).expect("the legs listen");
        tokio::time::sleep(LINGER).await;
        let (sent_up, heard_up) = finish(callers).await;
        let (sent_down, heard_down) = finish(callees).await;
        // Callers' packets are heard by callees, and the other way round.
        report("caller->callee", &sent_up, heard_down);
        report("callee->caller", &sent_down, heard_up);
    });
}

fn usage() -> ! {
    eprintln!("usage: rtp-probe [--direct] CALLER_LOG CALLEE_LOG SECONDS [THREADS]");
    std::process::exit(2);
}

/// Reads `<our port> <the PBX's port>` lines, as SIPp's `<log>` wrote them.
fn read_legs(path: &str) -> Vec<Leg> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        eprintln!("error: {path}: {e}");
        std::process::exit(1)
    });
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            let mut ports = l.split_whitespace().map(str::parse::<u16>);
            match (ports.next(), ports.next()) {
                (Some(Ok(local)), Some(Ok(pbx))) => Leg { local, pbx },
                _ => {
                    eprintln!("error: {path}:{}: expected `<port> <port>`: {l}", n + 1);
                    std::process::exit(1)
                }
            }
        })
        .collect()
}

/// A leg under way: its sender's count of packets and its receiver's findings.
type Running = (tokio::task::JoinHandle<u64>, tokio::task::JoinHandle<Heard>);

/// Binds each leg's port; returns its socket and where the PBX wants its RTP.
async fn bind(legs: &[Leg]) -> Vec<(Arc<UdpSocket>, SocketAddr)> {
    let mut bound = Vec::new();
    for leg in legs {
        let at = SocketAddr::from((Ipv4Addr::LOCALHOST, leg.local));
        let socket = UdpSocket::bind(at).await.unwrap_or_else(|e| {
            eprintln!("error: binding {at}: {e}");
            std::process::exit(1)
        });
        bound.push((
            Arc::new(socket),
            SocketAddr::from((Ipv4Addr::LOCALHOST, leg.pbx)),
        ));
    }
    bound
}

fn start(
    legs: Vec<(Arc<UdpSocket>, SocketAddr)>,
    ids: std::ops::Range<u32>,
    epoch: Instant,
    stopped: &watch::Receiver<bool>,
) -> Vec<Running> {
    let count = legs.len().max(1) as u32;
    legs.into_iter()
        .zip(ids)
        .map(|((socket, to), id)| {
            // Spread the legs' sending over the 20 ms, as independent phones would be.
            let offset = PACKET_INTERVAL * (id % count) / count;
            let send = tokio::spawn(send(socket.clone(), to, id, epoch, offset, stopped.clone()));
            let hear = tokio::spawn(hear(socket, epoch, stopped.clone()));
            (send, hear)
        })
        .collect()
}

/// Sends a packet every 20 ms until stopped; returns how many were sent.
async fn send(
    socket: Arc<UdpSocket>,
    to: SocketAddr,
    id: u32,
    epoch: Instant,
    offset: Duration,
    mut stopped: watch::Receiver<bool>,
) -> u64 {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, PACKET_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut packet = [0xFFu8; 12 + SAMPLES];
    packet[0] = 0x80;
    packet[8..12].copy_from_slice(&id.to_be_bytes());
    let mut sent = 0u64;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.changed() => return sent,
        }
        let seq = sent as u32;
        packet[1] = if sent == 0 { 0x80 } else { 0 };
        packet[2..4].copy_from_slice(&(seq as u16).to_be_bytes());
        packet[4..8].copy_from_slice(&seq.wrapping_mul(SAMPLES as u32).to_be_bytes());
        let now = epoch.elapsed().as_nanos() as u64;
        packet[12..16].copy_from_slice(&MAGIC.to_be_bytes());
        packet[16..20].copy_from_slice(&id.to_be_bytes());
        packet[20..24].copy_from_slice(&seq.to_be_bytes());
        packet[24..32].copy_from_slice(&now.to_be_bytes());
        if socket.send_to(&packet, to).await.is_ok() {
            sent += 1;
        }
    }
}

/// Receives until stopped (and the linger after it): what this phone heard.
async fn hear(socket: Arc<UdpSocket>, epoch: Instant, mut stopped: watch::Receiver<bool>) -> Heard {
    let mut heard = Heard::default();
    let mut last: HashMap<u32, (u64, u64)> = HashMap::new();
    let mut buf = [0u8; 2048];
    let mut until = None;
    loop {
        let deadline =
            until.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        let n = tokio::select! {
            r = socket.recv(&mut buf) => match r { Ok(n) => n, Err(_) => continue },
            _ = stopped.changed(), if until.is_none() => {
                until = Some(tokio::time::Instant::now() + LINGER - Duration::from_millis(50));
                continue;
            }
            _ = tokio::time::sleep_until(deadline) => return heard,
        };
        let at = epoch.elapsed().as_nanos() as u64;
        let field = |r: std::ops::Range<usize>| buf.get(r).map(|b| b.to_vec());
        let ours = n >= 32 && field(12..16) == Some(MAGIC.to_be_bytes().to_vec());
        if !ours {
            heard.foreign += 1;
            continue;
        }
        let id = u32::from_be_bytes(buf[16..20].try_into().expect("4 bytes"));
        let sent = u64::from_be_bytes(buf[24..32].try_into().expect("8 bytes"));
        *heard.received.entry(id).or_default() += 1;
        heard.transit.push(micros(at.saturating_sub(sent)));
        if let Some((prev_sent, prev_at)) = last.insert(id, (sent, at)) {
            let d = (at as i128 - prev_at as i128) - (sent as i128 - prev_sent as i128);
            heard.jitter.push(micros(d.unsigned_abs() as u64));
        }
    }
}

fn micros(ns: u64) -> u32 {
    (ns / 1000).min(u32::MAX as u64) as u32
}

async fn finish(running: Vec<Running>) -> (u64, Heard) {
    let mut sent = 0;
    let mut all = Heard::default();
    for (send, hear) in running {
        sent += send.await.expect("a sender");
        let h = hear.await.expect("a receiver");
        for (id, n) in h.received {
            *all.received.entry(id).or_default() += n;
        }
        all.transit.extend(h.transit);
        all.jitter.extend(h.jitter);
        all.foreign += h.foreign;
    }
    (sent, all)
}

fn report(direction: &str, sent: &u64, mut heard: Heard) {
    let received: u64 = heard.received.values().sum();
    heard.transit.sort_unstable();
    heard.jitter.sort_unstable();
    let ms = |v: &[u32], q: f64| -> String {
        if v.is_empty() {
            return "-".into();
        }
        let i = ((v.len() - 1) as f64 * q).round() as usize;
        format!("{:.3}", v[i] as f64 / 1000.0)
    };
    println!(
        "{direction} legs={} sent={sent} received={received} lost={} foreign={} transit_p50_ms={} transit_p99_ms={} transit_max_ms={} jitter_p99_ms={}",
        heard.received.len(),
        sent.saturating_sub(received),
        heard.foreign,
        ms(&heard.transit, 0.5),
        ms(&heard.transit, 0.99),
        ms(&heard.transit, 1.0),
        ms(&heard.jitter, 0.99),
    );
}
