//! `lint` at scale: the default plan plus N rules that can never run (each a warning
//! that names the rule shadowing it), linted as `pbxctl lint` does and drawn as
//! rustc-style text.
//! Prints the time per size, so the growth with N can be read off: it should be linear.
//! Then a site as issue 11 sizes it: a config of 100,000 extensions and 20,000
//! verification codes, served by a plan of 5,000 rules, linted as `pbxctl lint pbx.yaml`
//! does (every rule of `docs/lint.md`, the directory's included).

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

/// A config of `extensions` extensions and `codes` codes, served by the default plan
/// plus enough feature codes and patterns to make `rules` rules.
fn site(dir: &Path, extensions: usize, codes: usize, rules: usize) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let base = std::fs::read_to_string(root.join("dialplans/default.pbx")).expect("default plan");
    let shipped = pbxctl::dsl::load(&root.join("dialplans/default.pbx"))
        .expect("default plan")
        .rules;
    let have = shipped.dial.len() + shipped.inbound.len() + shipped.incoming.len();
    let extra = rules.saturating_sub(have);
    // Four in five are codes, the rest patterns with a capture (speed dials, pickups),
    // all before the shipped plan's internal, outside and catch-all rules.
    let mut added = String::new();
    for i in 0..extra {
        if i % 5 == 4 {
            added += &format!("dial *6{i:05}<number> {{\n  ring number\n}}\n");
        } else {
            added += &format!("dial *5{i:05} {{\n  play feature-unavailable\n  hangup\n}}\n");
        }
    }
    let at = base
        .find("dial extension {")
        .expect("the internal calls rule");
    let plan = format!("{}{added}\n{}", &base[..at], &base[at..]);
    std::fs::write(dir.join("site.pbx"), plan).expect("write plan");
    let mut yaml = format!(
        "dialplan: site.pbx\ndatabase: site.db\nprompts: {}\nsystem:\n  numbering: \"100000-299999\"\nextensions:\n",
        root.join("prompts/en").display()
    );
    for i in 0..extensions {
        let n = 100_000 + i;
        let class = [1, 2, 3, 4][i % 4];
        yaml += &format!(
            "  \"{n}\": {{ name: Person {i}, secret: \"sip-{n}-x7\", class: {class}, department: d{}, voicemail: {{ enabled: true, pin: \"{}\" }} }}\n",
            i % 50,
            5_000_000 + (i * 7919) % 4_000_000
        );
    }
    yaml += "codes:\n";
    for i in 0..codes {
        yaml += &format!(
            "  \"{}\": {{ name: Code {i}, pin: \"{}\", class: {} }}\n",
            10_000_000 + i,
            6_000_000 + (i * 104_729) % 3_000_000,
            1 + i % 3
        );
    }
    let path = dir.join("pbx.yaml");
    std::fs::write(&path, yaml).expect("write config");
    path
}

/// Lints a plan or a config as `pbxctl lint` does and draws every finding; returns how
/// many.
fn lint(path: &Path) -> usize {
    let found = pbxctl::lint::files(&[path.to_path_buf()]);
    let drawn: usize = found.iter().map(|(d, s)| d.render(s).len()).sum();
    std::hint::black_box(drawn);
    found.len()
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
        assert_eq!(warnings, *n, "one warning per unreachable rule");
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
    let site = site(dir.path(), 100_000, 20_000, 5_000);
    let start = Instant::now();
    let findings = lint(&site);
    let total = start.elapsed().as_secs_f64();
    // The config's YAML alone, to tell the parser's share from lint's own.
    let start = Instant::now();
    pbxctl::directory::Config::load(&site).expect("the generated config loads");
    let yaml = start.elapsed().as_secs_f64();
    println!(
        "lint: 100,000 extensions, 20,000 codes, 5,000 rules: {findings} findings in {total:.3} s, of which {yaml:.3} s reading the config's YAML and {:.3} s the plan and every rule",
        total - yaml
    );
    let mut group = c.benchmark_group("lint");
    group.sample_size(10);
    let (n, path) = &paths[2];
    group.bench_function(format!("{n} unreachable rules"), |b| b.iter(|| lint(path)));
    group.bench_function("100,000 extensions, 20,000 codes, 5,000 rules", |b| {
        b.iter(|| lint(&site))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
