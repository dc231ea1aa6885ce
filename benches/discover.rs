//! Discovery of a Debian default host (Debian's real nginx, Apache and lighttpd config trees under
//! one --root). Goal: < 100 ms.

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};

// (the tests' support module, for its copy_dir alone)
#[path = "../tests/it/support/mod.rs"]
#[allow(dead_code)]
mod support;
use support::copy_dir;
use tailgate::discover::{Options, discover};
use tailgate::paths::Root;

fn bench(c: &mut Criterion) {
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/configs");
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    copy_dir(&fx.join("nginx/debian-bookworm-1.22.1"), r);
    copy_dir(&fx.join("apache/debian-bookworm-2.4.71"), r);
    copy_dir(&fx.join("lighttpd/debian-bookworm-1.4.69"), r);
    std::fs::write(r.join("etc/os-release"), "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n").unwrap();
    let opts = Options { root: Root::new(Some(r.to_path_buf())), lb_idle_timeout: 60, profile_dir: None };
    let d = discover(&opts);
    assert!(d.sources.len() >= 6, "{:#?}", d.sources);
    c.bench_function("discover/debian-default-host", |b| b.iter(|| discover(&opts)));
}

criterion_group!(name = g; config = Criterion::default().sample_size(20); targets = bench);
criterion_main!(g);
