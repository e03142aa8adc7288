//! Calls run on an engine with the recorder watching, the way `pbxctl run` drives it;
//! each written session must replay green with `pbxctl test`'s runner.

use super::*;
use crate::directory::Config;
use crate::engine::Engine;
use crate::session::{Mode, PlanCache, run_session};
use crate::store::{SecretHasher, SqliteStore};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::rc::Rc;

const T0: Timestamp = Timestamp(1_800_000_000_000);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A driver like the switch: inputs and outputs pass the recorder; the phones the
/// engine rings answer when a test says.
struct Live {
    engine: Engine<Rc<SqliteStore>>,
    store: Rc<SqliteStore>,
    recorder: Recorder,
    now: Timestamp,
    written: Vec<Written>,
    /// Placed legs by extension.
    placed: Vec<(String, LegId)>,
    queue: VecDeque<Input>,
}

impl Live {
    fn new() -> Live {
        let config = Config::load(&root().join("examples/pbx.yaml")).unwrap();
        let plan = Arc::new(crate::dsl::load(&config.dialplan).unwrap());
        let hooks = crate::hooks::Hooks::compile(&plan).unwrap();
        let settings = config.validate(&plan).unwrap();
        let store = Rc::new(SqliteStore::in_memory().unwrap());
        store
            .provision(&config.directory, &SecretHasher::fast())
            .unwrap();
        let system = Value::Object(
            config
                .directory
                .system
                .iter()
                .map(|(k, v)| (k.clone(), v.value.clone()))
                .collect(),
        );
        let recorder = Recorder::new(plan.clone(), config.dialplan.display().to_string(), system);
        Live {
            engine: Engine::new(plan, Arc::new(hooks), settings, store.clone()),
            store,
            recorder,
            now: T0,
            written: Vec::new(),
            placed: Vec::new(),
            queue: VecDeque::new(),
        }
    }

    fn input(&mut self, input: Input) {
        self.queue.push_back(input);
        while let Some(input) = self.queue.pop_front() {
            self.recorder.input(self.now, &input, &*self.store);
            self.engine.handle(self.now, input);
            self.drain();
        }
    }

    fn drain(&mut self) {
        while let Some(o) = self.engine.poll() {
            self.recorder.output(self.now, &o, &*self.store);
            match o {
                Output::Verify {
                    request,
                    entered,
                    hash,
                    ..
                } => {
                    let matched = SecretHasher::fast().verify(&entered.0, hash.as_deref());
                    self.queue.push_back(Input::Verified { request, matched });
                }
                Output::Place {
                    leg,
                    target: Target::Extension(e),
                    ..
                } => self.placed.push((e, leg)),
                _ => {}
            }
        }
        let engine = &self.engine;
        self.written
            .extend(self.recorder.finished(|l| engine.has_leg(l)));
    }

    fn keys(&mut self, leg: LegId, keys: &str) {
        for k in keys.chars() {
            self.wait(120);
            self.input(Input::Digit { leg, digit: k });
        }
    }

    fn wait(&mut self, ms: i64) {
        let end = self.now.after(Duration(ms));
        while let Some(d) = self.engine.next_deadline().filter(|d| *d <= end) {
            self.now = d.max(self.now);
            self.engine.handle_timeout(self.now);
            self.drain();
        }
        self.now = end;
    }

    fn placed(&self, ext: &str) -> LegId {
        self.placed.iter().rev().find(|(e, _)| e == ext).unwrap().1
    }

    /// The one session written, replayed: it must pass.
    fn replayed(&self) -> String {
        assert_eq!(self.written.len(), 1, "one call, one session");
        let w = &self.written[0];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(&w.file);
        std::fs::write(&path, &w.text).unwrap();
        let outcome = run_session(&path, &mut PlanCache::default(), None, Mode::Check);
        assert!(
            matches!(outcome.verdict, crate::session::runner::Verdict::Passed),
            "{:?}\n{}",
            outcome.verdict,
            w.text
        );
        w.text.clone()
    }
}

fn call(l: &mut Live, leg: LegId, from: &str, to: &str) {
    l.input(Input::Call {
        leg,
        from: from.into(),
        to: to.into(),
    });
}

#[test]
fn a_password_call_replays_with_a_stand_in_for_the_password() {
    let mut l = Live::new();
    call(&mut l, 1, "101", "*11");
    l.wait(700);
    l.keys(1, "4831#");
    l.wait(3000);
    let text = l.replayed();
    assert!(
        !text.contains("4831"),
        "the password never reaches the file:\n{text}"
    );
    assert!(
        text.contains("expect: \"prompt terminal-blocked\""),
        "{text}"
    );
    assert!(text.contains("\"password\":\"5829\""), "{text}");
}

#[test]
fn wrong_entries_replay_as_wrong_and_the_right_one_as_right() {
    let mut l = Live::new();
    call(&mut l, 1, "102", "*61");
    l.wait(500);
    l.keys(1, "9999#");
    l.wait(2000);
    l.keys(1, "1357#");
    l.wait(1000);
    l.keys(1, "#");
    l.wait(1000);
    let text = l.replayed();
    assert_eq!(
        text.matches("dtmf: \"0\"").count(),
        4,
        "the wrong entry: {text}"
    );
    assert!(
        !text.contains("dtmf: \"1\""),
        "the right one is a stand-in: {text}"
    );
    assert!(
        text.contains("expect: \"prompt passcode-invalid\""),
        "{text}"
    );
    assert!(text.contains("expect: \"prompt voicemail-menu\""), "{text}");
}

#[test]
fn a_call_between_phones_replays_with_the_answer_and_the_hangup() {
    let mut l = Live::new();
    call(&mut l, 1, "101", "102");
    l.wait(4000);
    let callee = l.placed("102");
    l.input(Input::Progress {
        leg: callee,
        progress: Progress::Answered,
    });
    l.wait(10_000);
    l.input(Input::Hangup { leg: callee });
    let text = l.replayed();
    assert!(text.contains("  - answer: \"102\"\n"), "{text}");
    assert!(text.contains("  - hangup: \"102\"\n"), "{text}");
    assert!(text.contains("expect: \"connect 102\""), "{text}");
}

#[test]
fn an_unreachable_phone_replays_as_unreachable() {
    let mut l = Live::new();
    call(&mut l, 1, "101", "102");
    let callee = l.placed("102");
    l.input(Input::Progress {
        leg: callee,
        progress: Progress::Failed,
    });
    l.wait(3000);
    l.input(Input::Hangup { leg: 1 });
    let text = l.replayed();
    assert!(text.contains("  - unreachable: \"102\"\n"), "{text}");
    assert!(text.contains("expect: \"voicemail 102\""), "{text}");
}
