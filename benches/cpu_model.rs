//! CPUID and MSR paths that VM-exit microbenchmarks (vmexit_cpuid, RDMSR
//! loops) hammer: a CPUID query and a guest RDMSR through the MSR layer.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nestor::arch::msr_index::IA32_PAT;
use nestor::model::parse::parse_model;
use nestor::msr::{self, Initiator, MsrCtx};
use nestor::vm::VmCpuModel;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let vm = VmCpuModel::new(parse_model("max,+vmx").expect("model"), 1);
    let (state, _) = vm.reset_vcpu(0, 0);
    let mut g = c.benchmark_group("cpu_model");
    g.throughput(Throughput::Elements(1));
    g.bench_function("cpuid_leaf_7", |b| {
        b.iter(|| vm.cpuid_for(black_box(&state), black_box(7), 0))
    });
    let ctx = MsrCtx {
        model: vm.model(),
        clock_tsc: 0,
        apic_now: 0,
    };
    g.bench_function("rdmsr_pat", |b| {
        b.iter(|| {
            msr::read(
                black_box(&state),
                &ctx,
                black_box(IA32_PAT),
                Initiator::Guest,
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
