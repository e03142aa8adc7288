//! `pbxctl vm`: a mailbox's messages from a shell. The passcode comes on stdin and is
//! checked as the phone checks it, so the lockout rules hold here too (VM-4).

use super::action::{Admin, Reply, pretty};
use super::command::VmCommand;
use super::view;
use crate::store::{MessageRecord, StoreError};
use std::path::PathBuf;

impl Admin<'_> {
    /// Runs `pbxctl vm ...` with the passcode read from stdin.
    pub fn vm(&self, cmd: &VmCommand, passcode: &str) -> Reply {
        let ext = match cmd {
            VmCommand::List { ext, .. }
            | VmCommand::Export { ext, .. }
            | VmCommand::Delete { ext, .. } => ext,
        };
        self.guarded(|| {
            if self.store.extension(ext)?.is_none() {
                return Ok(self.unknown("extension", ext));
            }
            match self.check_passcode(ext, passcode.trim())? {
                Ok((0, _)) => {}
                Ok((status, line)) => {
                    self.audit(action_name(cmd), ext, line)?;
                    return Ok(Reply::fail(status, format!("{line}\n")));
                }
                Err(reply) => return Ok(reply),
            }
            match cmd {
                VmCommand::List { json, .. } => self.list_messages(ext, *json),
                VmCommand::Export { id, output, .. } => {
                    self.export_message(ext, *id, output.clone())
                }
                VmCommand::Delete { id, .. } => self.delete_message(ext, *id),
            }
        })
    }

    fn list_messages(&self, ext: &str, json: bool) -> Result<Reply, StoreError> {
        let messages = self.store.messages(ext)?;
        self.audit("vm list", ext, &format!("{} messages", messages.len()))?;
        let views: Vec<serde_json::Value> = messages.iter().map(view::message).collect();
        if json {
            return Ok(Reply::ok(format!(
                "{}\n",
                pretty(&serde_json::Value::Array(views))
            )));
        }
        let mut out =
            String::from("ID     FOLDER  FROM             RECEIVED                  SECONDS\n");
        for m in &messages {
            out += &format!(
                "{:<6} {:<7} {:<16} {:<25} {}\n",
                m.id,
                m.folder.name(),
                m.caller,
                m.received_at.rfc3339(),
                m.seconds
            );
        }
        Ok(Reply::ok(out))
    }

    /// Message `id` of mailbox `ext`, or the reply saying there is none.
    fn message_of(&self, ext: &str, id: i64) -> Result<Result<MessageRecord, Reply>, StoreError> {
        let found = self.store.messages(ext)?.into_iter().find(|m| m.id == id);
        Ok(found
            .ok_or_else(|| Reply::fail(3, format!("error: mailbox {ext} has no message {id}\n"))))
    }

    fn export_message(
        &self,
        ext: &str,
        id: i64,
        output: Option<PathBuf>,
    ) -> Result<Reply, StoreError> {
        let message = match self.message_of(ext, id)? {
            Ok(m) => m,
            Err(reply) => return Ok(reply),
        };
        let (Some(data), Some(file)) = (&self.data, &message.file) else {
            return Ok(Reply::fail(
                1,
                format!("error: message {id} has no audio here\n"),
            ));
        };
        let from = data.join(file);
        let to = output.unwrap_or_else(|| PathBuf::from(format!("{ext}-{id}.wav")));
        if let Err(e) = std::fs::copy(&from, &to) {
            return Ok(Reply::fail(
                2,
                format!(
                    "error: cannot copy {} to {}: {e}\n",
                    from.display(),
                    to.display()
                ),
            ));
        }
        self.audit("vm export", ext, &format!("message {id}"))?;
        Ok(Reply::ok(format!(
            "message {id} written to {}\n",
            to.display()
        )))
    }

    fn delete_message(&self, ext: &str, id: i64) -> Result<Reply, StoreError> {
        if let Err(reply) = self.message_of(ext, id)? {
            return Ok(reply);
        }
        let Some(message) = self.store.delete_message(id)? else {
            return Ok(Reply::fail(
                3,
                format!("error: mailbox {ext} has no message {id}\n"),
            ));
        };
        let mut note = String::new();
        if let (Some(data), Some(file)) = (&self.data, &message.file) {
            let path = data.join(file);
            if let Err(e) = std::fs::remove_file(&path) {
                note = format!("warning: the audio {} stays: {e}\n", path.display());
            }
        }
        self.audit("vm delete", ext, &format!("message {id}"))?;
        Ok(Reply {
            status: 0,
            stdout: format!("message {id} deleted\n"),
            stderr: note,
        })
    }
}

fn action_name(cmd: &VmCommand) -> &'static str {
    match cmd {
        VmCommand::List { .. } => "vm list",
        VmCommand::Export { .. } => "vm export",
        VmCommand::Delete { .. } => "vm delete",
    }
}
