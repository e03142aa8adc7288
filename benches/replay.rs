//! Session replay speed: a generated suite of 1,000 sessions (PP, PN, VC and VM flows,
//! and calls of several legs: a busy forward, follow me) replayed against the default
//! plan. Prints sessions/s and steps/s.

use criterion::{Criterion, criterion_group, criterion_main};
use pbxctl::session::{Mode, PlanCache, run_session};
use std::path::{Path, PathBuf};
use std::time::Instant;

const SESSIONS: usize = 1_000;

/// Six call flows, varied by extension number and PIN so no two files are alike.
fn session(i: usize, plan: &Path) -> String {
    let ext = 200 + (i % 600);
    let other = if ext == 799 { 798 } else { ext + 1 };
    let third = if ext >= 798 { 797 } else { ext + 2 };
    let pin = format!("{:04}", 2000 + (i * 7919) % 7000);
    let head = format!(
        "name: \"bench {i}\"\ndialplan: {}\nclock: 2026-03-01T09:00:00Z\ngiven:\n  extensions:\n    \"{ext}\": {{ voicemail: {{ enabled: true, pin: \"{pin}\" }}, password_protection: {{ enabled: true, password: \"{pin}\" }}, pin_protect: {{ enabled: true, duration: 60 }} }}\n    \"{other}\": {{ voicemail: {{ enabled: true, pin: \"2580\" }}, forward: {{ busy: \"{third}\" }}, follow_me: {{ enabled: true, ring_duration: 10, list: [{{ number: \"{third}\", ring_time: 10 }}] }} }}\n    \"{third}\": {{}}\n  codes:\n    \"1111\": {{ name: Tom, pin: \"4826\", class: 1 }}\nsteps:\n",
        plan.display()
    );
    let body = match i % 6 {
        0 => format!(
            "  - call: {ext} -> *11\n  - expect: prompt enter-password\n  - dtmf: 9{pin}#\n  - expect: prompt password-invalid\n  - dtmf: {pin}#\n  - expect: prompt terminal-blocked\n  - call: {ext} -> {other}\n  - expect: reject blocked\n"
        ),
        1 => format!(
            "  - call: {ext} -> 95551234\n  - expect: reject pin-required\n  - call: {ext} -> 7777\n  - dtmf: {pin}#\n  - expect: prompt outbound-granted\n  - wait: 59s\n  - call: {ext} -> 95551234\n  - expect: connect external:5551234\n  - hangup\n"
        ),
        2 => format!(
            "  - call: {other} -> *47\n  - dtmf: 1111#\n  - dtmf: 4826#\n  - expect: prompt dial-number\n  - dtmf: 95551234#\n  - expect: connect external:5551234\n  - hangup\n  - call: {ext} -> 911\n  - expect: connect external:911\n"
        ),
        // Follow me: the callee rings for its ring duration, then the next number.
        4 => format!(
            "  - call: {ext} -> {other}\n  - expect: ringing {other}\n  - wait: 10s\n  - expect: ringing {third}\n  - answer: \"{third}\"\n  - expect: connect {third}\n  - hangup\n"
        ),
        // A phone answering busy: the busy forward rings the third extension.
        5 => format!(
            "  - call: {ext} -> {other}\n  - expect: ringing {other}\n  - busy: \"{other}\"\n  - expect: ringing {third}\n  - answer: \"{third}\"\n  - expect: connect {third}\n  - hangup\n"
        ),
        _ => format!(
            "  - call: {ext} -> *60\n  - dtmf: {other}#\n  - dtmf: 1111#\n  - expect: prompt passcode-invalid\n  - dtmf: 1112#\n  - dtmf: 1113#\n  - expect: hangup\n  - call: {ext} -> *60\n  - dtmf: {other}#\n  - dtmf: 2580#\n  - expect: prompt mailbox-locked-contact-admin\n"
        ),
    };
    head + body.as_str()
}

fn generate() -> (tempfile::TempDir, Vec<PathBuf>, usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let plan = Path::new(env!("CARGO_MANIFEST_DIR")).join("dialplans/default.pbx");
    let mut files = Vec::new();
    let mut steps = 0;
    for i in 0..SESSIONS {
        let text = session(i, &plan);
        steps += text.matches("\n  - ").count();
        let path = dir.path().join(format!("s{i:04}.yaml"));
        std::fs::write(&path, text).expect("write session");
        files.push(path);
    }
    (dir, files, steps)
}

fn replay_all(files: &[PathBuf]) {
    let mut plans = PlanCache::default();
    for f in files {
        let outcome = run_session(f, &mut plans, None, Mode::Check);
        assert!(
            matches!(outcome.verdict, pbxctl::session::runner::Verdict::Passed),
            "{outcome:?}"
        );
    }
}

fn bench(c: &mut Criterion) {
    let (_dir, files, steps) = generate();
    // One timed pass for the README's figures, then criterion's samples.
    let start = Instant::now();
    replay_all(&files);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "replay: {SESSIONS} sessions, {steps} steps in {secs:.3} s: {:.0} sessions/s, {:.0} steps/s",
        SESSIONS as f64 / secs,
        steps as f64 / secs
    );
    let mut group = c.benchmark_group("replay");
    group.sample_size(10);
    group.bench_function("1000 sessions", |b| b.iter(|| replay_all(&files)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
