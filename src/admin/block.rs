//! Blocking and unblocking terminals (PP-7), one or many at a time. Many are changed in
//! one transaction, each with its line and audit row, and a summary ends the output;
//! the exit code is the worst of theirs.

use super::action::{Admin, Reply};
use super::command::Extensions;
use crate::dsl::ast::OwnerKind;
use crate::dsl::plan::StateField;
use crate::store::{SecretId, StateValue, StoreError};

/// `ext lock` or `ext unlock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// Block the terminal.
    Lock,
    /// Unblock it and lift its PIN lockouts.
    Unlock,
}

/// What an action did to one extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Changed,
    Unchanged,
    Unknown,
}

impl Block {
    fn command(self) -> &'static str {
        match self {
            Block::Lock => "ext lock",
            Block::Unlock => "ext unlock",
        }
    }

    /// The line printed (and audited) for one extension.
    fn line(self, ext: &str, outcome: Outcome) -> String {
        match (self, outcome) {
            (_, Outcome::Unknown) => format!("error: unknown extension {ext}"),
            (Block::Lock, Outcome::Changed) => format!("extension {ext} locked"),
            (Block::Lock, Outcome::Unchanged) => {
                format!("extension {ext} is already locked; nothing changed")
            }
            (Block::Unlock, Outcome::Changed) => format!("extension {ext} unlocked"),
            (Block::Unlock, Outcome::Unchanged) => {
                format!("extension {ext} was not locked; nothing changed")
            }
        }
    }

    /// How the summary names each outcome.
    fn summary_word(self, outcome: Outcome) -> &'static str {
        match (self, outcome) {
            (_, Outcome::Unknown) => "unknown",
            (Block::Lock, Outcome::Changed) => "locked",
            (Block::Lock, Outcome::Unchanged) => "already locked",
            (Block::Unlock, Outcome::Changed) => "unlocked",
            (Block::Unlock, Outcome::Unchanged) => "not locked",
        }
    }
}

impl Admin<'_> {
    /// Runs `ext lock|unlock` on its targets; `stdin` holds the numbers for `-`.
    pub(super) fn block(
        &self,
        block: Block,
        targets: &Extensions,
        stdin: &str,
    ) -> Result<Reply, StoreError> {
        let numbers = match self.targets(targets, stdin)? {
            Ok(numbers) => numbers,
            Err(reply) => return Ok(reply),
        };
        let mut outcomes = Vec::with_capacity(numbers.len());
        self.store.in_one_transaction(&mut || {
            outcomes.clear();
            for ext in &numbers {
                outcomes.push(self.block_one(block, ext)?);
            }
            Ok(())
        })?;
        let mut reply = Reply::default();
        for (ext, &outcome) in numbers.iter().zip(&outcomes) {
            let line = block.line(ext, outcome) + "\n";
            if outcome == Outcome::Unknown {
                reply.status = reply.status.max(3);
                reply.stderr += &line;
            } else {
                reply.stdout += &line;
            }
        }
        let one_named =
            targets.department.is_none() && !targets.reads_stdin() && numbers.len() == 1;
        if !one_named {
            let parts: Vec<String> = [Outcome::Changed, Outcome::Unchanged, Outcome::Unknown]
                .into_iter()
                .map(|o| {
                    (
                        outcomes.iter().filter(|&&x| x == o).count(),
                        block.summary_word(o),
                    )
                })
                .filter(|&(count, _)| count > 0)
                .map(|(count, word)| format!("{count} {word}"))
                .collect();
            let s = if numbers.len() == 1 { "" } else { "s" };
            reply.stdout += &format!(
                "{}: {} extension{s}: {}\n",
                block.command(),
                numbers.len(),
                parts.join(", ")
            );
        }
        Ok(reply)
    }

    /// The extension numbers a bulk action names, each once, in the order given (a
    /// department's in number order); `Err` with the reply when there are none.
    fn targets(
        &self,
        targets: &Extensions,
        stdin: &str,
    ) -> Result<Result<Vec<String>, Reply>, StoreError> {
        if let Some(department) = &targets.department {
            let numbers = self.extension_numbers(Some(department))?;
            if numbers.is_empty() {
                return Ok(Err(Reply::fail(
                    3,
                    format!("error: no extension is in department {department}\n"),
                )));
            }
            return Ok(Ok(numbers));
        }
        let mut numbers: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for n in &targets.numbers {
            let given: Vec<&str> = if n == "-" {
                stdin.split_whitespace().collect()
            } else {
                vec![n.as_str()]
            };
            numbers.extend(
                given
                    .into_iter()
                    .filter(|n| seen.insert(n.to_string()))
                    .map(str::to_owned),
            );
        }
        if numbers.is_empty() {
            return Ok(Err(Reply::fail(
                2,
                "error: no extension numbers on stdin\n",
            )));
        }
        Ok(Ok(numbers))
    }

    /// Locks or unlocks one extension, with its audit row.
    fn block_one(&self, block: Block, ext: &str) -> Result<Outcome, StoreError> {
        if self.store.extension(ext)?.is_none() {
            return Ok(Outcome::Unknown);
        }
        let changed = match block {
            Block::Lock => {
                self.store
                    .set_state(ext, StateField::Blocked, StateValue::Flag(true))?
            }
            Block::Unlock => self.unblock(ext)?,
        };
        let outcome = if changed {
            Outcome::Changed
        } else {
            Outcome::Unchanged
        };
        self.audit(block.command(), ext, &block.line(ext, outcome))?;
        Ok(outcome)
    }

    /// Unblocks a terminal and lifts its PIN lockouts (clearing a PIN where its policy
    /// says so); returns whether anything changed.
    fn unblock(&self, ext: &str) -> Result<bool, StoreError> {
        let mut changed =
            self.store
                .set_state(ext, StateField::Blocked, StateValue::Flag(false))?;
        for secret in ["voicemail", "password"] {
            let clears = self
                .policy(OwnerKind::Extension, secret)
                .is_some_and(|p| p.unlock_clears);
            let id = SecretId {
                owner_kind: OwnerKind::Extension,
                owner: ext.into(),
                kind: secret.into(),
            };
            if self
                .store
                .secret(&id)?
                .is_some_and(|s| s.locked || s.failures > 0)
            {
                changed |= self.store.unlock(&id, clears)?;
            }
        }
        Ok(changed)
    }
}
