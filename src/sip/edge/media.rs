//! One call leg's RTP, on its own task: a packet every 20 ms while the PBX plays to the
//! leg, keys found in what comes back, and while the leg is bridged every packet relayed
//! to the other leg's task the moment it arrives. RTP goes wherever the peer's RTP comes
//! from (symmetric RTP), which gets it through the peer's NAT.

use super::ToSwitch;
use crate::media::stream::{Format, Stream};
use crate::sip::switch::{CallId, Input};
use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// A packet from the other leg of a bridge, in that leg's format.
pub(super) struct Relayed {
    pub bytes: Vec<u8>,
    pub format: Format,
}

/// Commands to a leg's RTP task.
pub(super) enum ToMedia {
    /// Queue audio; report its playout with this mark.
    Play(Arc<Vec<i16>>, u64),
    /// Drop queued audio (barge-in).
    Stop,
    /// Press a key towards the peer.
    Key(char),
    /// The peer answered or re-negotiated: its SDP address, the format, and whether it
    /// wants our audio (not while it holds the call).
    Update(SocketAddr, Format, bool),
    /// Relay to (and take relayed packets from) another leg.
    Link(mpsc::UnboundedSender<Relayed>),
    /// The other leg is gone.
    Unlink,
    /// End the task.
    Close,
}

/// The two ways into a leg's RTP task.
pub(super) struct MediaHandle {
    pub commands: mpsc::UnboundedSender<ToMedia>,
    pub relay: mpsc::UnboundedSender<Relayed>,
}

/// Starts a leg's RTP task on `socket`.
pub(super) fn start(
    runtime: &tokio::runtime::Handle,
    call: CallId,
    socket: StdUdpSocket,
    remote: Option<SocketAddr>,
    format: Format,
    to_switch: std_mpsc::Sender<ToSwitch>,
) -> MediaHandle {
    let (commands, command_rx) = mpsc::unbounded_channel();
    let (relay, relay_rx) = mpsc::unbounded_channel();
    let leg = Leg {
        call,
        remote,
        format,
        to_switch,
    };
    runtime.spawn(run(leg, socket, command_rx, relay_rx));
    MediaHandle { commands, relay }
}

struct Leg {
    call: CallId,
    remote: Option<SocketAddr>,
    format: Format,
    to_switch: std_mpsc::Sender<ToSwitch>,
}

async fn run(
    leg: Leg,
    socket: StdUdpSocket,
    mut commands: mpsc::UnboundedReceiver<ToMedia>,
    mut relayed: mpsc::UnboundedReceiver<Relayed>,
) {
    let Leg {
        call,
        mut remote,
        format,
        to_switch,
    } = leg;
    let socket = match socket
        .set_nonblocking(true)
        .map(|_| UdpSocket::from_std(socket))
    {
        Ok(Ok(s)) => s,
        _ => {
            let _ = to_switch.send(ToSwitch::Input(Input::MediaFailed { call }));
            return;
        }
    };
    let seed = rand::random::<u64>();
    let mut stream = Stream::new(
        format,
        seed as u32,
        (seed >> 32) as u16,
        (seed >> 48) as u32,
    );
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut buf = vec![0u8; 2048];
    // The newest Play not yet reported as played out.
    let mut unreported: Option<u64> = None;
    // The peer's RTP came from here: send there from now on, until its SDP moves.
    let mut latched = false;
    let mut announced = remote;
    let mut sending = true;
    let mut peer: Option<mpsc::UnboundedSender<Relayed>> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let (Some(to), Some(packet), true) = (remote, stream.tick(), sending) {
                    let _ = socket.send_to(&packet, to).await;
                }
                if let Some(mark) = unreported.filter(|_| !stream.playing()) {
                    unreported = None;
                    let _ = to_switch.send(ToSwitch::Input(Input::PlayoutDone { call, mark }));
                }
            }
            received = socket.recv_from(&mut buf) => {
                let Ok((n, from)) = received else { continue };
                if !latched {
                    remote = Some(from);
                    latched = true;
                }
                let keys = stream.receive(&buf[..n]);
                if !keys.is_empty() {
                    let _ = to_switch.send(ToSwitch::Input(Input::Keys { call, keys }));
                }
                if let Some(p) = &peer {
                    let _ = p.send(Relayed { bytes: buf[..n].to_vec(), format: stream.format() });
                }
            }
            Some(r) = relayed.recv() => {
                let out = stream.relay(&r.bytes, r.format).filter(|_| sending);
                if let (Some(to), Some(out)) = (remote, out) {
                    let _ = socket.send_to(&out, to).await;
                }
            }
            command = commands.recv() => match command {
                Some(ToMedia::Play(audio, mark)) => {
                    stream.play(&audio);
                    unreported = Some(mark);
                }
                Some(ToMedia::Key(key)) => stream.send_key(key),
                Some(ToMedia::Stop) => {
                    stream.stop();
                    unreported = None;
                }
                Some(ToMedia::Update(to, format, wanted)) => {
                    if announced != Some(to) {
                        // A new address in the SDP (a phone that moved): latch afresh.
                        announced = Some(to);
                        remote = Some(to);
                        latched = false;
                    }
                    stream.set_format(format);
                    sending = wanted;
                }
                Some(ToMedia::Link(other)) => {
                    peer = Some(other);
                    stream.set_bridged(true);
                }
                Some(ToMedia::Unlink) => {
                    peer = None;
                    stream.set_bridged(false);
                }
                Some(ToMedia::Close) | None => break,
            }
        }
    }
}
