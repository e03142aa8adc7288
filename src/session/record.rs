//! Live calls written as session files (`pbxctl run --record DIR`): the driver shows the
//! recorder every input it gives the engine and every output it takes, and once a call
//! is over the recorder writes it in the format of `sessions.md`, so `pbxctl test` replays
//! it: the caller's keys at their times, the phones answering or busy when they did, and
//! every event the caller heard as a strict `expect`.
//!
//! Secrets never reach the file: digits the engine checked against a secret are
//! replaced by stand-ins, the right ones by a stand-in that `given` makes the secret, the
//! wrong ones by zeros, so the replay takes the same branches. The `given` holds what a
//! session can say (the extensions and codes the call touched, as they were, and the
//! system settings); failure counts and lockouts are not in the format, so a call that
//! met a locked secret replays as if it were not locked.

use crate::clock::{Duration, Timestamp};
use crate::dsl::Plan;
use crate::dsl::ast::OwnerKind;
use crate::engine::event::{Event, Input, LegId, Output, PLACED_LEGS, Progress, Target, VerifyId};
use crate::store::{SecretId, Store};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Records calls while they run.
pub struct Recorder {
    plan: Arc<Plan>,
    /// The plan file, as the sessions name it.
    dialplan: String,
    /// The config's `system:` settings.
    system: Value,
    /// Calls being recorded, by the caller's leg.
    calls: HashMap<LegId, Recording>,
    /// Placed legs: (the caller's leg, the leg's name in the session).
    placed: HashMap<LegId, (LegId, String)>,
    /// Secret checks waiting for their verdict: (the caller's leg, its check).
    checks: HashMap<VerifyId, (LegId, usize)>,
}

/// A finished call, ready to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// A file name for it: start time, caller and dialed digits.
    pub file: String,
    /// The session's YAML.
    pub text: String,
}

struct Recording {
    start: Timestamp,
    /// When the last step happened (waits are counted from there).
    last: Timestamp,
    from: String,
    to: String,
    steps: Vec<Step>,
    /// The leg the next `expect` applies to.
    current: String,
    extensions: BTreeMap<String, Map<String, Value>>,
    codes: BTreeMap<String, Map<String, Value>>,
    /// Secrets the owners in `given` have: each gets a stand-in.
    secrets: Vec<SecretId>,
    checks: Vec<Check>,
}

/// One secret check: the digits that were the entry, and how it went.
struct Check {
    secret: Option<SecretId>,
    /// Indexes of the `dtmf` steps holding the entry.
    digits: Vec<usize>,
    existed: bool,
    matched: Option<bool>,
}

enum Step {
    Wait(Duration),
    Dtmf { leg: Option<String>, key: char },
    Expect(String),
    Answer(String),
    Busy(String),
    Unreachable(String),
    Hangup(Option<String>),
    Leg(String),
}

impl Recorder {
    /// A recorder for calls under `plan` (the file `dialplan`), with the config's `system`.
    pub fn new(plan: Arc<Plan>, dialplan: String, system: Value) -> Recorder {
        Recorder {
            plan,
            dialplan,
            system,
            calls: HashMap::new(),
            placed: HashMap::new(),
            checks: HashMap::new(),
        }
    }

    /// The plan changed (a reload): new calls are recorded under it.
    pub fn set_plan(&mut self, plan: Arc<Plan>, dialplan: String, system: Value) {
        self.plan = plan;
        self.dialplan = dialplan;
        self.system = system;
    }

    /// An input the driver is about to give the engine; `store` is read for a new
    /// call's `given`.
    pub fn input(&mut self, now: Timestamp, input: &Input, store: &dyn Store) {
        match input {
            // An inbound call is written as a call: sessions take a caller that is no
            // extension's as outside.
            Input::Call { leg, from, to } | Input::Inbound { leg, from, to } => {
                let mut r = Recording {
                    start: now,
                    last: now,
                    from: from.clone(),
                    to: to.clone(),
                    steps: Vec::new(),
                    current: "a".into(),
                    extensions: BTreeMap::new(),
                    codes: BTreeMap::new(),
                    secrets: Vec::new(),
                    checks: Vec::new(),
                };
                for number in [from, to] {
                    r.extension(store, number);
                }
                self.calls.insert(*leg, r);
            }
            Input::Digit { leg, digit } => {
                let (call, name) = self.whose(*leg);
                if let Some(r) = self.calls.get_mut(&call) {
                    r.wait_until(now);
                    r.steps.push(Step::Dtmf {
                        leg: name,
                        key: *digit,
                    });
                }
            }
            Input::Progress { leg, progress } => {
                let (call, Some(name)) = self.whose(*leg) else {
                    return;
                };
                let Some(r) = self.calls.get_mut(&call) else {
                    return;
                };
                // Outside numbers answer at once in a session; extensions as they did.
                if name.starts_with("external:") {
                    return;
                }
                let step = match progress {
                    Progress::Answered => Step::Answer(name),
                    Progress::Busy => Step::Busy(name),
                    Progress::Failed => Step::Unreachable(name),
                    Progress::Ringing => return,
                };
                r.wait_until(now);
                r.steps.push(step);
            }
            Input::Hangup { leg } => {
                let (call, name) = self.whose(*leg);
                if let Some(r) = self.calls.get_mut(&call) {
                    r.wait_until(now);
                    r.steps.push(Step::Hangup(name));
                }
            }
            Input::Verified { request, matched } => {
                if let Some((call, i)) = self.checks.remove(request)
                    && let Some(c) = self.calls.get_mut(&call).and_then(|r| r.checks.get_mut(i))
                {
                    c.matched = Some(*matched);
                }
            }
        }
    }

    /// An output the driver took from the engine.
    pub fn output(&mut self, now: Timestamp, output: &Output, store: &dyn Store) {
        match output {
            Output::Event { leg, event } if self.calls.contains_key(leg) => {
                let r = self.calls.get_mut(leg).expect("checked");
                r.wait_until(now);
                if r.current != "a" {
                    r.current = "a".into();
                    r.steps.push(Step::Leg("a".into()));
                }
                r.steps.push(Step::Expect(event_text(event)));
            }
            Output::Place {
                leg, call, target, ..
            } => {
                // `101`, or `external:5551234` as sessions name an outside party.
                let name = target.to_string();
                if let (Target::Extension(e), Some(r)) = (target, self.calls.get_mut(call)) {
                    r.extension(store, e);
                }
                self.placed.insert(*leg, (*call, name));
            }
            Output::Verify {
                request,
                leg,
                entered,
                hash,
                secret,
            } => {
                let call = self.whose(*leg).0;
                let Some(r) = self.calls.get_mut(&call) else {
                    return;
                };
                // The entry is the leg's last digits before the `#` that ended it.
                let name = self.placed.get(leg).map(|(_, n)| n.clone());
                let mut digits: Vec<usize> = r
                    .steps
                    .iter()
                    .enumerate()
                    .rev()
                    .filter(|(_, s)| matches!(s, Step::Dtmf { leg: l, key } if *l == name && *key != '#'))
                    .map(|(i, _)| i)
                    .take(entered.0.chars().count())
                    .collect();
                digits.reverse();
                if let Some(s) = secret {
                    match s.owner_kind {
                        OwnerKind::Extension => r.extension(store, &s.owner),
                        OwnerKind::Code => r.code(store, &s.owner),
                    }
                }
                r.checks.push(Check {
                    secret: secret.clone(),
                    digits,
                    existed: hash.is_some(),
                    matched: None,
                });
                self.checks.insert(*request, (call, r.checks.len() - 1));
            }
            _ => {}
        }
    }

    /// Calls whose caller's leg the engine no longer has (`live` says which it has):
    /// each as a session file.
    pub fn finished(&mut self, live: impl Fn(LegId) -> bool) -> Vec<Written> {
        let done: Vec<LegId> = self.calls.keys().copied().filter(|l| !live(*l)).collect();
        let mut out = Vec::new();
        for leg in done {
            let r = self.calls.remove(&leg).expect("listed");
            self.placed.retain(|_, (call, _)| *call != leg);
            self.checks.retain(|_, (call, _)| *call != leg);
            out.push(self.render(r));
        }
        out
    }

    /// The caller's leg a leg belongs to, and its name if it is not the caller's.
    fn whose(&self, leg: LegId) -> (LegId, Option<String>) {
        if leg < PLACED_LEGS {
            return (leg, None);
        }
        match self.placed.get(&leg) {
            Some((call, name)) => (*call, Some(name.clone())),
            None => (leg, None),
        }
    }

    fn render(&self, mut r: Recording) -> Written {
        let mut digits: HashMap<usize, char> = HashMap::new();
        let mut stand_ins: HashMap<SecretId, String> = HashMap::new();
        for secret in &r.secrets {
            stand_ins.insert(secret.clone(), stand_in(self.policy_len(secret, 4)));
        }
        for c in &r.checks {
            let Some(secret) = &c.secret else { continue };
            if !c.existed {
                continue;
            }
            let value = stand_ins
                .entry(secret.clone())
                .or_insert_with(|| stand_in(self.policy_len(secret, c.digits.len())));
            if c.matched == Some(true) && value.len() != c.digits.len() {
                *value = stand_in(c.digits.len());
            }
        }
        for c in &r.checks {
            let right = c
                .secret
                .as_ref()
                .and_then(|s| stand_ins.get(s))
                .filter(|_| c.matched == Some(true));
            for (n, i) in c.digits.iter().enumerate() {
                let key = right.and_then(|v| v.chars().nth(n)).unwrap_or('0');
                digits.insert(*i, key);
            }
        }
        for (secret, value) in &stand_ins {
            let (map, field, key) = match (secret.owner_kind, secret.kind.as_str()) {
                (OwnerKind::Extension, "voicemail") => (&mut r.extensions, "voicemail", "pin"),
                (OwnerKind::Extension, "password") => {
                    (&mut r.extensions, "password_protection", "password")
                }
                (OwnerKind::Code, _) => (&mut r.codes, "", "pin"),
                _ => continue,
            };
            let Some(entry) = map.get_mut(&secret.owner) else {
                continue;
            };
            let target = if field.is_empty() {
                entry
            } else {
                let slot = entry.entry(field).or_insert_with(|| json!({}));
                match slot.as_object_mut() {
                    Some(o) => o,
                    None => continue,
                }
            };
            target.insert(key.into(), Value::String(value.clone()));
        }

        let mut text = String::new();
        let name = format!("recorded call {} -> {}", r.from, r.to);
        text += "# Written by pbxctl run --record. Secrets entered are replaced by stand-ins.\n";
        text += &format!("name: {}\n", quote(&name));
        text += &format!("dialplan: {}\n", quote(&self.dialplan));
        text += &format!("clock: {}\n", r.start.rfc3339());
        text += "strict: true\ngiven:\n";
        text += &format!("  system: {}\n", self.system);
        text += "  extensions:\n";
        for (number, entry) in &r.extensions {
            text += &format!("    {}: {}\n", quote(number), Value::Object(entry.clone()));
        }
        if !r.codes.is_empty() {
            text += "  codes:\n";
            for (code, entry) in &r.codes {
                text += &format!("    {}: {}\n", quote(code), Value::Object(entry.clone()));
            }
        }
        text += "steps:\n";
        text += &format!(
            "  - call: {} -> {}\n",
            quote_bare(&r.from),
            quote_bare(&r.to)
        );
        for (i, step) in r.steps.iter().enumerate() {
            text += &match step {
                Step::Wait(d) => format!("  - wait: {}ms\n", d.0),
                Step::Dtmf { leg, key } => {
                    let key = digits.get(&i).copied().unwrap_or(*key);
                    match leg {
                        None => format!("  - dtmf: {}\n", quote(&key.to_string())),
                        Some(l) => format!(
                            "  - dtmf: {{digits: {}, leg: {}}}\n",
                            quote(&key.to_string()),
                            quote(l)
                        ),
                    }
                }
                Step::Expect(e) => format!("  - expect: {}\n", quote(e)),
                Step::Answer(e) => format!("  - answer: {}\n", quote(e)),
                Step::Busy(e) => format!("  - busy: {}\n", quote(e)),
                Step::Unreachable(e) => format!("  - unreachable: {}\n", quote(e)),
                Step::Hangup(None) => "  - hangup\n".to_owned(),
                Step::Hangup(Some(l)) => format!("  - hangup: {}\n", quote(l)),
                Step::Leg(l) => format!("  - leg: {}\n", quote(l)),
            };
        }
        let file = format!(
            "{}-{}-{}.yaml",
            r.start.rfc3339().replace([':', '.'], ""),
            file_part(&r.from),
            file_part(&r.to)
        );
        Written { file, text }
    }

    /// The length a stand-in for `secret` takes when no entry says: `seen` if the
    /// policy allows it, else its shortest.
    fn policy_len(&self, secret: &SecretId, seen: usize) -> usize {
        match self.plan.policy(secret.owner_kind, &secret.kind) {
            Some(p) => {
                let (min, max) = (p.min_len as usize, p.max_len as usize);
                if (min..=max).contains(&seen) {
                    seen
                } else {
                    min.max(1)
                }
            }
            None => seen.max(4),
        }
    }
}

impl Recording {
    /// A `wait` up to `now`, if time passed since the last step.
    fn wait_until(&mut self, now: Timestamp) {
        let gap = now.since(self.last);
        if gap.0 > 0 {
            self.steps.push(Step::Wait(gap));
            self.last = now;
        }
    }

    /// Adds an extension's configuration and state to `given`, once.
    fn extension(&mut self, store: &dyn Store, number: &str) {
        if self.extensions.contains_key(number) {
            return;
        }
        let Ok(Some(e)) = store.extension(number) else {
            return;
        };
        let Ok(Value::Object(mut entry)) = serde_json::to_value(&e.config) else {
            return;
        };
        let s = &e.state;
        entry.insert("blocked".into(), Value::Bool(s.blocked));
        entry.insert("dnd".into(), Value::Bool(s.dnd));
        entry.insert(
            "forward".into(),
            json!({ "all": s.forward_all, "busy": s.forward_busy, "no_answer": s.forward_no_answer }),
        );
        self.extensions.insert(number.to_owned(), entry);
        self.has_secrets(
            store,
            OwnerKind::Extension,
            number,
            &["password", "voicemail"],
        );
    }

    /// Notes which of an owner's secrets are set, so `given` sets stand-ins for them.
    fn has_secrets(&mut self, store: &dyn Store, kind: OwnerKind, owner: &str, kinds: &[&str]) {
        for k in kinds {
            let id = SecretId {
                owner_kind: kind,
                owner: owner.to_owned(),
                kind: (*k).to_owned(),
            };
            if store
                .secret(&id)
                .is_ok_and(|s| s.is_some_and(|s| s.hash.is_some()))
            {
                self.secrets.push(id);
            }
        }
    }

    /// Adds a verification code (without its PIN) to `given`, once.
    fn code(&mut self, store: &dyn Store, code: &str) {
        if self.codes.contains_key(code) {
            return;
        }
        if let Ok(Some(c)) = store.code(code) {
            let entry = json!({ "name": c.name, "class": c.class, "billing": c.billing });
            if let Value::Object(m) = entry {
                self.codes.insert(code.to_owned(), m);
            }
            self.has_secrets(store, OwnerKind::Code, code, &["pin"]);
        }
    }
}

/// A secret that is not weak (no run, no repeated digit) of `len` digits.
fn stand_in(len: usize) -> String {
    "5829374610".chars().cycle().take(len).collect()
}

/// An event as `expect` writes it (a secret's digits never appear in events).
fn event_text(event: &Event) -> String {
    event.to_string()
}

/// A YAML double-quoted scalar (JSON's escaping is YAML's).
fn quote(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

/// A number or code as a `call:` step writes it: bare (a quoted one would keep its quotes).
fn quote_bare(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | '#' | '+'))
        .collect()
}

/// A piece of a file name: digits, `*` and `#` spelled out.
fn file_part(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '*' => 's',
            '#' => 'p',
            c if c.is_ascii_alphanumeric() => c,
            _ => '_',
        })
        .collect()
}

#[cfg(test)]
mod tests;
