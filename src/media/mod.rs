//! Media: G.711, WAV, RTP and its losses, pcap captures, in-band DTMF detection and
//! RFC 4733 telephone-events. Sans-IO, shared by the session runner (`dtmf: {from: ...}`)
//! and the RTP edge of `pbxctl run` (playout, prompts, tones).

pub mod g711;
pub mod inband;
pub mod pcap;
pub mod prompt_set;
pub mod recording;
pub mod rtp;
pub mod rtp_loss;
pub mod stream;
pub mod telephone_event;
pub mod tone;
pub mod wav;
