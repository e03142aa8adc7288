//! Voicemail on live calls: a caller the plan sends to `voicemail MAILBOX` hears the
//! greeting and a beep, then speaks until it hangs up, presses `#`, or the longest
//! message runs out; the RTP task writes the audio as a WAV file under the data
//! directory and the message is stored once the file is written. Messages heard with
//! `messages MAILBOX` are played from those files.

use super::{CallId, Output, Phase, Switch};
use crate::clock::{Duration, Timestamp};
use crate::engine::event as leg;
use crate::engine::mailbox;
use crate::media::tone;
use crate::store::Store;
use tracing::{info, warn};

/// A message being left.
pub(super) struct Deposit {
    mailbox: String,
    caller: String,
    /// The WAV file, relative to the data directory.
    file: String,
}

impl<S: Store + Clone> Switch<S> {
    /// `voicemail MAILBOX` on a caller's leg: the greeting, the beep, then recording.
    pub(super) fn start_deposit(&mut self, now: Timestamp, id: CallId, mailbox: String) {
        if !mailbox.chars().all(|c| c.is_ascii_alphanumeric()) {
            // The plan names the mailbox; it also names a folder on disk.
            warn!(call = id, %mailbox, "no such mailbox for a message: the call ends");
            self.hang_up_after_playout(now, id, 480);
            return;
        }
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        info!(call = id, %mailbox, "leaving a message");
        let file = format!("voicemail/{mailbox}/{}-{}.wav", now.0, call.local_tag);
        let caller = call.caller.clone();
        self.deposits.insert(
            id,
            Deposit {
                mailbox,
                caller,
                file,
            },
        );
        match self.prompts.render("voicemail-greeting", None) {
            Some(audio) => self.play(id, audio),
            None => warn!(
                call = id,
                "no audio for voicemail-greeting in the prompt set"
            ),
        }
        if let Some(beep) = tone::samples("beep") {
            self.play(id, beep);
        }
        if self.calls.get(&id).is_some_and(|c| c.phase == Phase::Up) {
            self.record(id);
        }
    }

    /// Tells the RTP task to record once the greeting has played (called again when a
    /// deposit's leg has its RTP open).
    pub(super) fn record(&mut self, id: CallId) {
        if let Some(d) = self.deposits.get(&id) {
            self.out.push_back(Output::Record {
                call: id,
                file: d.file.clone(),
                longest: MAX_MESSAGE,
            });
        }
    }

    /// Whether `key` on leg `id` ends a message being left (`#`): the key is the
    /// switch's, not the plan's.
    pub(super) fn deposit_key(&mut self, id: CallId, key: char) -> bool {
        if key != '#' || !self.deposits.contains_key(&id) {
            return false;
        }
        self.out.push_back(Output::FinishRecording { call: id });
        true
    }

    /// The RTP task wrote a message's audio (`file` is `None` when it was too short to
    /// keep): the message is stored and the mailbox's phones told. If the caller is
    /// still there (it pressed `#`, or the time ran out) it hears goodbye.
    pub(super) fn recorded(
        &mut self,
        now: Timestamp,
        id: CallId,
        file: Option<String>,
        seconds: i64,
    ) {
        let Some(d) = self.deposits.remove(&id) else {
            return;
        };
        if let Some(file) = file {
            let at = now.before(Duration::seconds(seconds));
            match mailbox::deposit(&self.store, &d.mailbox, &d.caller, at, seconds, Some(file)) {
                Ok(Some(message)) => {
                    info!(call = id, mailbox = %d.mailbox, message, seconds, "message left");
                    self.notify_mailbox(now, &d.mailbox);
                }
                Ok(None) => {}
                Err(e) => warn!(call = id, error = %e, "the message was recorded but not stored"),
            }
        }
        let Some(engine) = self.calls.get(&id).map(|c| c.engine) else {
            return;
        };
        if let Some(audio) = self.prompts.render("goodbye", None) {
            self.play(id, audio);
        }
        self.hang_up_after_playout(now, id, 480);
        self.engine_input(now, engine, leg::Input::Hangup { leg: id });
    }

    /// `message ID` from a mailbox menu: its audio file plays on the caller's leg.
    pub(super) fn play_message(&mut self, id: CallId, message: i64, file: Option<String>) {
        let Some(file) = file else {
            warn!(call = id, message, "the message has no audio file");
            return;
        };
        let mark = self.next_mark;
        self.next_mark += 1;
        match self.calls.get_mut(&id) {
            Some(c) if c.phase == Phase::Up => c.playing = Some(mark),
            _ => return,
        }
        self.out.push_back(Output::PlayFile {
            call: id,
            file,
            mark,
        });
    }

    /// A message deleted from a phone: its audio goes too.
    pub(super) fn discard(&mut self, file: Option<String>) {
        if let Some(file) = file {
            self.out.push_back(Output::DeleteFile { file });
        }
    }
}

/// The longest message: three minutes, as most PBXs ship.
pub const MAX_MESSAGE: Duration = Duration(180_000);
