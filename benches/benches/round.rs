//! Round math: checked integer arithmetic, expected in the nanoseconds.

use core::hint::black_box;
use criterion::{Criterion, criterion_group, criterion_main};
use veil_core::{Chain, Round};

fn round_math(c: &mut Criterion) {
    let t = Chain::builtin("quicknet").unwrap().time();
    let r = Round::new(34_169_651).unwrap();
    c.bench_function("time_of", |b| b.iter(|| t.time_of(black_box(r))));
    c.bench_function("round_at", |b| {
        b.iter(|| t.round_at(black_box(1_795_312_317)))
    });
    c.bench_function("reveal_round", |b| {
        b.iter(|| t.reveal_round(black_box(1_795_312_318)))
    });
}

criterion_group!(benches, round_math);
criterion_main!(benches);
