//! Discovery of a Debian default host (Debian's real nginx, Apache and lighttpd config trees under
//! one --root). Goal: < 100 ms.

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use tailgate::discover::{Options, Root, discover};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

fn bench(c: &mut Criterion) {
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/configs");
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    copy_dir(&fx.join("nginx/debian-bookworm-1.22.1"), r);
    copy_dir(&fx.join("apache/debian-bookworm-2.4.71"), r);
    copy_dir(&fx.join("lighttpd/debian-bookworm-1.4.69"), r);
    std::fs::write(r.join("etc/os-release"), "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n").unwrap();
    let opts = Options { root: Root::new(Some(r.to_path_buf())), lb_idle_timeout: 60, profile_dir: "/nonexistent".into() };
    let d = discover(&opts);
    assert!(d.sources.len() >= 6, "{:#?}", d.sources);
    c.bench_function("discover/debian-default-host", |b| b.iter(|| discover(&opts)));
}

criterion_group!(name = g; config = Criterion::default().sample_size(20); targets = bench);
criterion_main!(g);
