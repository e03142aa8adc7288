//! One call leg's RTP, on its own task: a packet every 20 ms while the PBX plays to the
//! leg, keys found in what comes back, and while the leg is bridged every packet relayed
//! to the other leg's task the moment it arrives. RTP goes wherever the peer's RTP comes
//! from (symmetric RTP), which gets it through the peer's NAT.

use super::ToSwitch;
use super::metrics::RtpCounters;
use crate::clock::Duration;
use crate::engine::mailbox::SHORTEST_MESSAGE_SECONDS;
use crate::media::rtp_loss::LossCounter;
use crate::media::stream::{Format, Stream};
use crate::media::wav;
use crate::sip::switch::{CallId, Input};
use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::warn;

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
    /// Record the peer into this file (under the data folder) once the queued audio
    /// has played, for at most so long.
    Record(String, Duration),
    /// End the recording now.
    FinishRecording,
    /// Queue a WAV file (under the data folder); report its playout with this mark.
    PlayFile(String, u64),
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

/// What a leg's RTP task starts with.
pub(super) struct Leg {
    pub call: CallId,
    /// Where the peer wants RTP, if known yet.
    pub remote: Option<SocketAddr>,
    pub format: Format,
    /// The data folder: messages are recorded and played under it.
    pub data: PathBuf,
    pub to_switch: std_mpsc::Sender<ToSwitch>,
    /// Where relayed and lost packets are counted.
    pub rtp: RtpCounters,
}

/// Starts a leg's RTP task on `socket`.
pub(super) fn start(
    runtime: &tokio::runtime::Handle,
    leg: Leg,
    socket: StdUdpSocket,
) -> MediaHandle {
    let (commands, command_rx) = mpsc::unbounded_channel();
    let (relay, relay_rx) = mpsc::unbounded_channel();
    runtime.spawn(run(leg, socket, command_rx, relay_rx));
    MediaHandle { commands, relay }
}

/// A message being recorded.
struct Recording {
    /// The file, relative to the data folder.
    file: String,
    samples: Vec<i16>,
    /// The most samples kept.
    longest: usize,
}

impl Recording {
    /// Writes the message if it is long enough to keep, and tells the switch.
    fn finish(self, call: CallId, data: &std::path::Path, to_switch: &std_mpsc::Sender<ToSwitch>) {
        let seconds = (self.samples.len() / 8000) as i64;
        let path = data.join(&self.file);
        let to_switch = to_switch.clone();
        // Off the RTP task: the disk may be slow.
        tokio::task::spawn_blocking(move || {
            let file = (seconds >= SHORTEST_MESSAGE_SECONDS)
                .then(|| write(&path, &self.samples).map(|()| self.file))
                .transpose()
                .unwrap_or_else(|e| {
                    warn!(call, file = %path.display(), error = %e, "the message could not be written");
                    None
                });
            let _ = to_switch.send(ToSwitch::Input(Input::Recorded {
                call,
                file,
                seconds,
            }));
        });
    }
}

/// A message's audio, read off the RTP task (the disk may be slow).
async fn read_message(path: PathBuf) -> Result<Vec<i16>, String> {
    let read = tokio::task::spawn_blocking(move || std::fs::read(&path));
    let bytes = read
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    wav::decode(&bytes)
}

/// Writes 8 kHz samples as a WAV file, making its folder.
fn write(path: &std::path::Path, samples: &[i16]) -> std::io::Result<()> {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)?;
    }
    std::fs::write(path, wav::encode_pcm(samples))
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
        data,
        to_switch,
        rtp,
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
    let mut recording: Option<Recording> = None;
    let mut loss = LossCounter::default();
    loop {
        tokio::select! {
            _ = tick.tick(), if !stream.idle() || unreported.is_some() => {
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
                // The message starts after the greeting and the beep.
                if let Some(r) = recording.as_mut().filter(|_| !stream.playing()) {
                    r.samples.extend(stream.audio(&buf[..n]));
                    if r.samples.len() >= r.longest {
                        recording.take().expect("recording").finish(call, &data, &to_switch);
                    }
                }
                let lost = loss.observe(&buf[..n]);
                if let Some(p) = &peer {
                    rtp.lost(lost);
                    let _ = p.send(Relayed { bytes: buf[..n].to_vec(), format: stream.format() });
                }
            }
            Some(r) = relayed.recv() => {
                let out = stream.relay(&r.bytes, r.format).filter(|_| sending);
                if let (Some(to), Some(out)) = (remote, out)
                    && socket.send_to(&out, to).await.is_ok()
                {
                    rtp.relayed();
                }
            }
            command = commands.recv() => match command {
                Some(ToMedia::Play(audio, mark)) => {
                    stream.play(&audio);
                    unreported = Some(mark);
                }
                Some(ToMedia::Key(key)) => stream.send_key(key),
                Some(ToMedia::Record(file, longest)) => {
                    let longest = usize::try_from(longest.0 * 8).unwrap_or(usize::MAX);
                    recording = Some(Recording { file, samples: Vec::new(), longest });
                }
                Some(ToMedia::FinishRecording) => {
                    if let Some(r) = recording.take() {
                        r.finish(call, &data, &to_switch);
                    }
                }
                Some(ToMedia::PlayFile(file, mark)) => {
                    let path = data.join(&file);
                    match read_message(path.clone()).await {
                        Ok(audio) => stream.play(&audio),
                        Err(e) => warn!(call, file = %path.display(), error = %e, "a message could not be played"),
                    }
                    unreported = Some(mark);
                }
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
                Some(ToMedia::Close) | None => {
                    // A caller who hangs up has finished its message.
                    if let Some(r) = recording.take() {
                        r.finish(call, &data, &to_switch);
                    }
                    break;
                }
            }
        }
    }
}
