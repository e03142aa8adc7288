//! `messages MAILBOX`: the caller hears a mailbox's messages and handles them with keys,
//! the way Asterisk's voicemail (which CooVox phones front) lays them out:
//!
//! - `voicemail-menu` welcomes the caller (VM-1's success); the menu says how many
//!   messages are new and saved and waits: `1` new messages, `2` saved ones, `#` leaves;
//! - each message is announced by number and played; a new message is heard once it
//!   starts playing and moves to saved (the message light goes out with the last one);
//!   then `5` replays it, `7` deletes it, `9` saves it, `6` goes to the next, `4` to the
//!   previous, `#` back to the menu.
//!
//! Silence after a prompt repeats it once, then the call ends, as with `ask`.

use super::context::Context;
use super::event::{Event, LegId, Output};
use super::leg::{Leg, Wait};
use crate::clock::Timestamp;
use crate::store::{Folder, MessageRecord, Store};

/// Where the caller is in the mailbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Menu {
    /// The mailbox (an extension).
    pub mailbox: String,
    /// The menu, or a message.
    pub at: Place,
    /// Whether the last prompt was already repeated for silence.
    pub repeated: bool,
}

/// The menu, or one message of a folder.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    /// The main menu.
    Main,
    /// A message, after it played.
    Message {
        /// The messages of the folder chosen, as they were when it was chosen.
        ids: Vec<i64>,
        /// Which one.
        index: usize,
    },
}

/// What the leg does after a key or a timeout.
#[derive(Debug, PartialEq)]
pub(super) enum Next {
    /// Waits for the next key.
    Wait,
    /// The caller left (or stayed silent): the call ends.
    End,
}

/// Starts the menu on `leg`.
pub(super) fn enter<S: Store>(cx: &mut Context<S>, leg: &mut Leg, now: Timestamp, mailbox: String) {
    let mut menu = Menu {
        mailbox,
        at: Place::Main,
        repeated: false,
    };
    say(cx, leg.id, "voicemail-menu", None);
    main_menu(cx, leg.id, &mut menu);
    wait(cx, leg, now, menu);
}

/// A key pressed in the mailbox.
pub(super) fn key<S: Store>(cx: &mut Context<S>, leg: &mut Leg, now: Timestamp, key: char) -> Next {
    let Wait::Mailbox(menu) = std::mem::replace(&mut leg.wait, Wait::Running) else {
        return Next::Wait;
    };
    let mut menu = *menu;
    menu.repeated = false;
    let id = leg.id;
    match (&menu.at, key) {
        (Place::Main, '1') => open_folder(cx, id, &mut menu, Folder::New),
        (Place::Main, '2') => open_folder(cx, id, &mut menu, Folder::Saved),
        (Place::Main, '#') => {
            say(cx, id, "goodbye", None);
            return Next::End;
        }
        (Place::Main, _) => say(cx, id, "mailbox-options", None),
        (Place::Message { .. }, '#') => main_menu(cx, id, &mut menu),
        (Place::Message { ids, index }, _) => {
            let (ids, index) = (ids.clone(), *index);
            match key {
                '5' => play(cx, id, &mut menu, ids, index),
                '6' => next(cx, id, &mut menu, ids, index + 1),
                '4' => play(cx, id, &mut menu, ids, index.saturating_sub(1)),
                '7' => {
                    delete(cx, id, &menu.mailbox, ids[index]);
                    say(cx, id, "message-deleted", None);
                    next(cx, id, &mut menu, ids, index + 1);
                }
                '9' => {
                    file(cx, id, &menu.mailbox, ids[index], Folder::Saved);
                    say(cx, id, "message-saved", None);
                    next(cx, id, &mut menu, ids, index + 1);
                }
                _ => say(cx, id, "message-options", None),
            }
        }
    }
    wait(cx, leg, now, menu);
    Next::Wait
}

/// Silence after the last prompt: repeated once, then the call ends.
pub(super) fn timeout<S: Store>(cx: &mut Context<S>, leg: &mut Leg, now: Timestamp) -> Next {
    let Wait::Mailbox(menu) = &mut leg.wait else {
        return Next::Wait;
    };
    if menu.repeated {
        say(cx, leg.id, "goodbye", None);
        return Next::End;
    }
    menu.repeated = true;
    let prompt = match menu.at {
        Place::Main => "mailbox-options",
        Place::Message { .. } => "message-options",
    };
    say(cx, leg.id, prompt, None);
    leg.deadline = Some(now.after(cx.settings.engine.prompt_timeout));
    Next::Wait
}

fn wait<S: Store>(cx: &Context<S>, leg: &mut Leg, now: Timestamp, menu: Menu) {
    leg.wait = Wait::Mailbox(Box::new(menu));
    leg.deadline = Some(now.after(cx.settings.engine.prompt_timeout));
}

fn say<S: Store>(cx: &mut Context<S>, leg: LegId, prompt: &str, arg: Option<String>) {
    let id = prompt.to_owned();
    cx.emit(leg, Event::Prompt { id, arg });
}

/// The mailbox's messages; a store failure is told and counts as none.
fn messages<S: Store>(cx: &mut Context<S>, leg: LegId, mailbox: &str) -> Vec<MessageRecord> {
    match cx.store.messages(mailbox) {
        Ok(m) => m,
        Err(e) => {
            cx.warn(Some(leg), format!("mailbox {mailbox} not read: {e}"));
            Vec::new()
        }
    }
}

/// The counts, then the menu's choices.
fn main_menu<S: Store>(cx: &mut Context<S>, leg: LegId, menu: &mut Menu) {
    menu.at = Place::Main;
    let all = messages(cx, leg, &menu.mailbox);
    let new = all.iter().filter(|m| m.folder == Folder::New).count();
    let saved = all.len() - new;
    say(cx, leg, "new-messages", Some(new.to_string()));
    say(cx, leg, "saved-messages", Some(saved.to_string()));
    say(cx, leg, "mailbox-options", None);
}

fn open_folder<S: Store>(cx: &mut Context<S>, leg: LegId, menu: &mut Menu, folder: Folder) {
    let ids: Vec<i64> = messages(cx, leg, &menu.mailbox)
        .into_iter()
        .filter(|m| m.folder == folder)
        .map(|m| m.id)
        .collect();
    if ids.is_empty() {
        say(cx, leg, "no-messages", None);
        say(cx, leg, "mailbox-options", None);
        return;
    }
    play(cx, leg, menu, ids, 0);
}

/// Message `index` of `ids`, or the end of the folder.
fn next<S: Store>(cx: &mut Context<S>, leg: LegId, menu: &mut Menu, ids: Vec<i64>, index: usize) {
    if index < ids.len() {
        play(cx, leg, menu, ids, index);
    } else {
        say(cx, leg, "no-more-messages", None);
        main_menu(cx, leg, menu);
    }
}

/// Announces and plays a message; a new one is heard from now on.
fn play<S: Store>(cx: &mut Context<S>, leg: LegId, menu: &mut Menu, ids: Vec<i64>, index: usize) {
    let id = ids[index];
    let found = messages(cx, leg, &menu.mailbox)
        .into_iter()
        .find(|m| m.id == id);
    say(cx, leg, "message-number", Some((index + 1).to_string()));
    match found {
        Some(m) => {
            if m.folder == Folder::New {
                file(cx, leg, &menu.mailbox, id, Folder::Saved);
            }
            cx.emit(leg, Event::Message { id, file: m.file });
        }
        // Deleted meanwhile (from another phone, or `pbxctl vm delete`).
        None => say(cx, leg, "message-deleted", None),
    }
    say(cx, leg, "message-options", None);
    menu.at = Place::Message { ids, index };
}

/// Moves a message to `folder`; the mailbox's phones hear of it (MWI).
fn file<S: Store>(cx: &mut Context<S>, leg: LegId, mailbox: &str, id: i64, folder: Folder) {
    match cx.store.set_message_folder(id, folder) {
        Ok(true) => cx.out.push_back(Output::MailboxChanged {
            mailbox: mailbox.to_owned(),
        }),
        Ok(false) => {}
        Err(e) => cx.warn(Some(leg), format!("message {id} not moved: {e}")),
    }
}

/// Deletes a message; the driver removes its audio, and the phones hear of it.
fn delete<S: Store>(cx: &mut Context<S>, leg: LegId, mailbox: &str, id: i64) {
    match cx.store.delete_message(id) {
        Ok(Some(m)) => cx.out.push_back(Output::MessageDeleted {
            mailbox: mailbox.to_owned(),
            file: m.file,
        }),
        Ok(None) => {}
        Err(e) => cx.warn(Some(leg), format!("message {id} not deleted: {e}")),
    }
}

/// The shortest message kept: anything less is a caller who hung up at the beep.
pub const SHORTEST_MESSAGE_SECONDS: i64 = 1;

/// Stores a message left in `mailbox` (by `pbxctl run` once its audio is written, by a
/// session when the caller hangs up); too short a message is not kept. Returns its id.
pub fn deposit<S: Store>(
    store: &S,
    mailbox: &str,
    caller: &str,
    at: Timestamp,
    seconds: i64,
    file: Option<String>,
) -> crate::store::StoreResult<Option<i64>> {
    if seconds < SHORTEST_MESSAGE_SECONDS {
        return Ok(None);
    }
    let message = MessageRecord {
        id: 0,
        mailbox: mailbox.to_owned(),
        caller: caller.to_owned(),
        received_at: at,
        seconds,
        folder: Folder::New,
        file,
    };
    store.add_message(&message).map(Some)
}
