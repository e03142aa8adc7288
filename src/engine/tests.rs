//! The engine's contract with its drivers, on the default plan and a real (in-memory)
//! store: which legs it asks to place, bridge and end, and what it makes of what
//! came of them. The session suite covers behaviour; this pins the protocol the SIP
//! switch relies on.

use super::event::{CallStatus, Event, Input, Output, PLACED_LEGS, Progress, Target};
use super::*;
use crate::clock::Duration;
use crate::store::{SecretHasher, SqliteStore, Store};

const T0: Timestamp = Timestamp(1_800_000_000_000);

fn engine() -> Engine<SqliteStore> {
    engine_given(
        "extensions:\n  \"101\": { password_protection: { enabled: true, password: \"4321\" } }\n  \"102\": {}\n",
    )
}

/// The default plan over a store provisioned with `given` (a session's `given`).
fn engine_given(given: &str) -> Engine<SqliteStore> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let plan = crate::dsl::load(&root.join("dialplans/default.pbx")).unwrap();
    let hooks = Hooks::compile(&plan).unwrap();
    let given: crate::directory::Directory = serde_saphyr::from_str(given).unwrap();
    let store = SqliteStore::in_memory().unwrap();
    store.provision(&given, &SecretHasher::fast()).unwrap();
    let settings = plan.default_settings();
    Engine::new(Arc::new(plan), Arc::new(hooks), settings, store)
}

fn drain(e: &mut Engine<SqliteStore>) -> Vec<Output> {
    std::iter::from_fn(|| e.poll()).collect()
}

fn call(e: &mut Engine<SqliteStore>, leg: LegId, from: &str, to: &str) -> Vec<Output> {
    let (from, to) = (from.to_string(), to.to_string());
    e.handle(T0, Input::Call { leg, from, to });
    drain(e)
}

fn placed(outs: &[Output]) -> LegId {
    outs.iter()
        .find_map(|o| match o {
            Output::Place { leg, .. } => Some(*leg),
            _ => None,
        })
        .expect("a leg placed")
}

#[test]
fn a_call_to_an_extension_places_bridges_and_ends_legs() {
    let mut e = engine();
    let outs = call(&mut e, 1, "101", "102");
    assert_eq!(
        outs,
        [
            Output::Place {
                leg: PLACED_LEGS + 1,
                call: 1,
                from: "101".into(),
                target: Target::Extension("102".into()),
            },
            Output::Event {
                leg: 1,
                event: Event::Ringing("102".into()),
            },
        ]
    );
    let b = placed(&outs);
    e.handle(
        T0,
        Input::Progress {
            leg: b,
            progress: Progress::Ringing,
        },
    );
    assert!(drain(&mut e).is_empty());
    e.handle(
        T0,
        Input::Progress {
            leg: b,
            progress: Progress::Answered,
        },
    );
    assert_eq!(
        drain(&mut e),
        [
            Output::Bridge { a: 1, b },
            Output::Event {
                leg: 1,
                event: Event::Connect("102".into())
            },
            Output::Event {
                leg: b,
                event: Event::Connect("101".into())
            },
        ]
    );
    // The callee hangs up: the PBX hangs up on the caller, and the call is recorded.
    e.handle(T0.after(Duration::seconds(7)), Input::Hangup { leg: b });
    assert_eq!(
        drain(&mut e),
        [
            Output::Event {
                leg: 1,
                event: Event::Hangup
            },
            Output::CallEnded {
                leg: 1,
                status: CallStatus::Answered
            }
        ]
    );
    assert!(e.live_legs().is_empty());
    let records = e.store().call_records().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].duration, records[0].status.as_str()),
        (7, "answered")
    );
    // Both phones are free again: the next call rings, it does not find 102 busy.
    let outs = call(&mut e, 2, "101", "102");
    assert!(matches!(outs[0], Output::Place { .. }), "{outs:?}");
}

#[test]
fn a_caller_hanging_up_ends_the_ringing_leg() {
    let mut e = engine();
    let b = placed(&call(&mut e, 1, "101", "102"));
    e.handle(T0, Input::Hangup { leg: 1 });
    assert_eq!(
        drain(&mut e),
        [
            Output::End { leg: b },
            Output::CallEnded {
                leg: 1,
                status: CallStatus::NoAnswer
            }
        ]
    );
    assert_eq!(e.store().call_records().unwrap()[0].status, "no-answer");
    // What the driver says of the gone leg afterwards changes nothing.
    e.handle(
        T0,
        Input::Progress {
            leg: b,
            progress: Progress::Answered,
        },
    );
    assert!(drain(&mut e).is_empty());
}

#[test]
fn a_call_out_that_fails_is_recorded_failed() {
    let mut e = engine();
    let outs = call(&mut e, 1, "101", "95551234");
    assert!(matches!(
        &outs[..],
        [Output::Place { target: Target::Outside(n), .. }] if n == "5551234"
    ));
    e.handle(
        T0,
        Input::Progress {
            leg: placed(&outs),
            progress: Progress::Failed,
        },
    );
    assert_eq!(
        drain(&mut e),
        [
            Output::Event {
                leg: 1,
                event: Event::Reject(RejectReason::Unavailable)
            },
            Output::CallEnded {
                leg: 1,
                status: CallStatus::Failed
            }
        ]
    );
    let record = &e.store().call_records().unwrap()[0];
    assert_eq!(
        (record.status.as_str(), record.kind.as_str()),
        ("failed", "outbound")
    );
}

#[test]
fn secrets_are_verified_by_the_driver_and_never_shown() {
    let mut e = engine();
    call(&mut e, 1, "101", "*11");
    for d in "4321#".chars() {
        e.handle(T0, Input::Digit { leg: 1, digit: d });
    }
    let outs = drain(&mut e);
    let (request, hash) = outs
        .iter()
        .find_map(|o| match o {
            Output::Verify {
                request,
                hash,
                entered,
                ..
            } => {
                assert_eq!(entered.0, "4321");
                assert!(!format!("{o:?}").contains("4321"), "{o:?}");
                Some((*request, hash.clone()))
            }
            _ => None,
        })
        .expect("a verify request");
    assert!(SecretHasher::fast().verify("4321", hash.as_deref()));
    // Nothing happens until the answer comes; a stale answer is ignored.
    e.handle(
        T0,
        Input::Verified {
            request: request + 100,
            matched: true,
        },
    );
    assert!(drain(&mut e).is_empty());
    e.handle(
        T0,
        Input::Verified {
            request,
            matched: true,
        },
    );
    let outs = drain(&mut e);
    assert!(
        outs.contains(&Output::Event {
            leg: 1,
            event: Event::Prompt {
                id: "terminal-blocked".into(),
                arg: None
            },
        }),
        "{outs:?}"
    );
    assert!(e.store().extension("101").unwrap().unwrap().state.blocked);
}

#[test]
fn emergency_numbers_are_placed_as_emergency_with_the_prefix_stripped() {
    for dialed in ["911", "9911"] {
        let mut e = engine();
        let outs = call(&mut e, 1, "101", dialed);
        assert!(
            matches!(&outs[..], [Output::Place { target: Target::Emergency(n), .. }] if n == "911"),
            "{dialed}: {outs:?}"
        );
    }
}

#[test]
fn a_call_from_a_trunk_takes_the_inbound_rules_even_from_an_extension_number() {
    // A carrier's caller ID is not proof of anything: "102" calling in from outside
    // may not dial the PBX's codes as extension 102 would.
    let mut e = engine();
    let (from, to) = ("102".to_string(), "*74".to_string());
    e.handle(T0, Input::Inbound { leg: 1, from, to });
    assert_eq!(
        drain(&mut e),
        [
            Output::Event {
                leg: 1,
                event: Event::Reject(RejectReason::NotFound)
            },
            Output::CallEnded {
                leg: 1,
                status: CallStatus::Rejected
            }
        ]
    );
    assert!(!e.store().extension("102").unwrap().unwrap().state.dnd);
    let outs = {
        let (from, to) = ("5551234".to_string(), "101".to_string());
        e.handle(T0, Input::Inbound { leg: 2, from, to });
        drain(&mut e)
    };
    assert!(
        matches!(&outs[0], Output::Place { target: Target::Extension(n), from, .. } if n == "101" && from == "5551234"),
        "{outs:?}"
    );
}

#[test]
fn a_lockout_is_reported_by_kind_and_the_end_as_the_record_says() {
    let mut e =
        engine_given("extensions:\n  \"101\": { voicemail: { enabled: true, pin: \"2580\" } }\n");
    call(&mut e, 1, "101", "7777");
    let mut outs = Vec::new();
    // Three wrong PINs: the voicemail policy locks on the third (mailbox_lockout).
    for _ in 0..3 {
        for digit in "9999#".chars() {
            e.handle(T0, Input::Digit { leg: 1, digit });
        }
        let request = drain(&mut e)
            .iter()
            .find_map(|o| match o {
                Output::Verify { request, .. } => Some(*request),
                _ => None,
            })
            .expect("a verify request");
        e.handle(
            T0,
            Input::Verified {
                request,
                matched: false,
            },
        );
        outs.extend(drain(&mut e));
    }
    let locked: Vec<&Output> = outs
        .iter()
        .filter(|o| matches!(o, Output::LockedOut { .. }))
        .collect();
    assert_eq!(
        locked,
        [&Output::LockedOut {
            leg: 1,
            secret: "voicemail".into()
        }],
        "{outs:?}"
    );
    assert!(!format!("{outs:?}").contains("9999"), "{outs:?}");
    let ended: Vec<CallStatus> = outs
        .iter()
        .filter_map(|o| match o {
            Output::CallEnded { leg: 1, status } => Some(*status),
            _ => None,
        })
        .collect();
    let records = e.store().call_records().unwrap();
    assert_eq!(ended.len(), 1, "{outs:?}");
    assert_eq!(ended[0].as_str(), records[0].status);
}
