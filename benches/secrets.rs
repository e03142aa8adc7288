//! The cost of one secret verify at each hashing cost: production (OWASP argon2id)
//! and the session-replay cost.

use criterion::{Criterion, criterion_group, criterion_main};
use pbxctl::store::SecretHasher;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    group.sample_size(20);
    for (name, hasher) in [
        ("production", SecretHasher::production()),
        ("replay", SecretHasher::fast()),
    ] {
        let stored = hasher.hash("2580");
        group.bench_function(name, |b| {
            b.iter(|| assert!(hasher.verify("2580", Some(&stored))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
