//! Parser throughput per format (bytes/s), on realistic lines: the demo pair from the project's
//! seeded generator and the real error-log samples, repeated to a few MiB.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tailgate::detect::classify;
use tailgate::format::Format;

fn load(rel: &str, target: usize) -> Vec<u8> {
    let one = std::fs::read(format!("{}/{rel}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut v = Vec::with_capacity(target + one.len());
    while v.len() < target {
        v.extend_from_slice(&one);
    }
    v
}

fn bench_format(c: &mut Criterion, name: &str, rel: &str, format: Format) {
    let data = load(rel, 4 << 20);
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function(name, |b| {
        b.iter(|| {
            let mut p = format.parser();
            let mut n5 = 0u64;
            let mut start = 0;
            for nl in memchr::memchr_iter(b'\n', &data) {
                let line = &data[start..nl];
                start = nl + 1;
                if let Ok(r) = p.parse(line)
                    && classify(&r).is_some()
                {
                    n5 += 1;
                }
            }
            black_box(n5)
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    bench_format(c, "elb", "examples/demo/elb.log", Format::Elb);
    bench_format(c, "nginx-combined", "examples/demo/nginx_access.log", Format::from_spec("nginx-combined").unwrap());
    bench_format(c, "apache-combined", "examples/demo/nginx_access.log", Format::from_spec("apache-combined").unwrap());
    bench_format(c, "alb", "tests/fixtures/elb/alb-samples.log", Format::Alb);
    bench_format(c, "nginx-error", "tests/fixtures/errorlogs/nginx-error.log", Format::NginxError);
    bench_format(c, "apache-error", "tests/fixtures/errorlogs/apache-error.log", Format::ApacheError);
    bench_format(c, "w3c", "tests/fixtures/iis/logs/inetpub/logs/LogFiles/W3SVC1/u_ex160110.log", Format::W3c);
}

criterion_group!(name = g; config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3)); targets = benches);
criterion_main!(g);
