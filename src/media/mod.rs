//! Media: G.711, WAV files, and in-band DTMF detection. Sans-IO, shared by the
//! session runner (`dtmf: {from: call.wav}`) and, later, the RTP edge.

pub mod g711;
pub mod inband;
pub mod wav;
