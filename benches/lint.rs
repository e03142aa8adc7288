//! `lint` at scale: the default plan plus N rules that can never run (each a warning
//! that names the rule shadowing it), loaded, checked and drawn as rustc-style text.
//! Prints the time per size, so the growth with N can be read off: it should be linear.

use criterion::{Criterion, criterion_group, criterion_main};
use std::path::Path;
use std::time::Instant;

const SIZES: [usize; 4] = [10_000, 25_000, 50_000, 100_000];

fn plan_with_unreachable_rules(dir: &Path, n: usize) -> std::path::PathBuf {
    let base = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("dialplans/default.pbx"),
    )
    .expect("default plan");
    let rules: String = (0..n)
        .map(|i| format!("dial *{i} {{ hangup }}\n"))
        .collect();
    let path = dir.join(format!("unreachable-{n}.pbx"));
    std::fs::write(&path, base + rules.as_str()).expect("write plan");
    path
}

/// Loads and checks the plan and draws every warning, as `pbxctl lint` does.
fn lint(path: &Path) -> usize {
    let plan = pbxctl::dsl::load(path).expect("warnings only");
    let drawn: usize = plan
        .warnings
        .iter()
        .map(|w| w.render(&plan.sources).len())
        .sum();
    assert!(drawn > 0);
    plan.warnings.len()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let paths: Vec<_> = SIZES
        .iter()
        .map(|&n| (n, plan_with_unreachable_rules(dir.path(), n)))
        .collect();
    // One timed pass per size for the README's figures, then criterion's samples.
    let mut previous: Option<(usize, f64)> = None;
    for (n, path) in &paths {
        let start = Instant::now();
        let warnings = lint(path);
        let secs = start.elapsed().as_secs_f64();
        let growth = previous.map_or(String::new(), |(m, s)| {
            format!(
                ", x{:.2} time for x{:.1} rules",
                secs / s,
                *n as f64 / m as f64
            )
        });
        println!("lint: {n} unreachable rules, {warnings} warnings in {secs:.3} s{growth}");
        previous = Some((*n, secs));
    }
    let mut group = c.benchmark_group("lint");
    group.sample_size(10);
    let (n, path) = &paths[2];
    group.bench_function(format!("{n} unreachable rules"), |b| b.iter(|| lint(path)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
