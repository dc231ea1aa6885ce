//! The fleet job (`fleet/tailgate_fleet.py`) on Apache Spark in local mode, judged by tailgate
//! itself: on the same S3-shaped tree of load-balancer logs (several Classic and ALB load
//! balancers, two nodes each, a file per 5 minutes, ALB files gzipped, ≥ 20 backends),
//! `summary.json` must equal the summary of `tailgate --correlate DIR --all-backends --format json`
//! and the findings must be the same set (file, line, source, cause). PySpark is installed by
//! `fleet/run-local.sh` into `target/fleet-venv` the first time.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use serde_json::Value;

/// One Spark at a time (each takes every core), and one venv installation.
static SPARK: Mutex<()> = Mutex::new(());

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn generate(dir: &Path, lines: u32) {
    let st = Command::new("python3")
        .arg(repo().join("fleet/gen_fleet_data.py"))
        .arg(dir)
        .args(["--lines", &lines.to_string(), "--backends", "24"])
        .status()
        .unwrap();
    assert!(st.success());
}

fn fleet(input: &Path, output: &Path) -> Output {
    fleet_with(input, output, &[])
}

fn fleet_with(input: &Path, output: &Path, extra: &[&str]) -> Output {
    let _one = SPARK.lock().unwrap_or_else(|e| e.into_inner());
    let out = Command::new("bash")
        .arg(repo().join("fleet/run-local.sh"))
        .arg(input)
        .arg(output)
        .args(extra)
        .env("TAILGATE", env!("CARGO_BIN_EXE_tailgate"))
        .env("TAILGATE_FLEET_VENV", repo().join("target/fleet-venv"))
        .output()
        .unwrap();
    eprintln!("{}", said(&out).lines().filter(|l| l.contains("tailgate-fleet")).collect::<Vec<_>>().join("\n"));
    out
}

/// What the job said (spark-submit relays the driver's stderr on its stdout).
fn said(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// `tailgate --correlate DIR --all-backends --format json` (an empty --root: no web server of
/// this host takes part).
fn reference(input: &Path) -> Value {
    let root = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tailgate"))
        .args(["--correlate", "-q", "--all-backends", "--format", "json", "--root"])
        .arg(root.path())
        .arg(input)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

type Key = (String, u64, String, String);

fn key(f: &Value) -> Key {
    (
        f["elb"]["file"].as_str().unwrap().to_string(),
        f["elb"]["line"].as_u64().unwrap(),
        f["source"].as_str().unwrap().to_string(),
        f["cause"].as_str().unwrap().to_string(),
    )
}

fn fleet_findings(output: &Path) -> BTreeSet<Key> {
    let mut got = BTreeSet::new();
    for e in std::fs::read_dir(output.join("findings/ndjson")).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().starts_with("part-") {
            for l in std::fs::read_to_string(&p).unwrap().lines() {
                assert!(got.insert(key(&serde_json::from_str(l).unwrap())), "a finding twice: {l}");
            }
        }
    }
    got
}

fn summary(output: &Path) -> Value {
    let mut s: Value = serde_json::from_str(&std::fs::read_to_string(output.join("summary.json")).unwrap()).unwrap();
    let m = s.as_object_mut().unwrap();
    m.remove("job");
    m.remove("objects");
    s
}

#[test]
fn spark_gives_the_answers_one_machine_gives() {
    let d = tempfile::tempdir().unwrap();
    let (input, output) = (d.path().join("in"), d.path().join("out"));
    generate(&input, 40_000);
    let want = reference(&input);
    let s = &want["summary"];
    // (the data has what the contract is about)
    assert!(s["backends"].as_array().unwrap().len() >= 20 && !s["bursts"].as_array().unwrap().is_empty());
    assert_eq!(s["lb_idle_timeout_s"]["from"], "inferred", "ALB 504s say the idle timeout");
    let out = fleet_with(&input, &output, &["--shards"]);
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(summary(&output), *s, "summary.json = tailgate's summary");
    // Each backend's shard (Spark escapes `:` in a partition's name), read by tailgate as an agent
    // would read its elb_log_dir, holds that backend's lines: its requests, 5xx and rate as the
    // whole input gives them.
    for b in s["backends"].as_array().unwrap().iter().take(3) {
        let name = b["backend"].as_str().unwrap();
        let dirs: Vec<PathBuf> = std::fs::read_dir(output.join("shards"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .flat_map(|lb| std::fs::read_dir(lb).unwrap())
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy() == format!("backend={}", name.replace(':', "%3A")))
            .collect();
        assert!(!dirs.is_empty(), "a shard for {name}");
        let root = tempfile::tempdir().unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_tailgate"))
            .args(["--correlate", "-q", "--all-backends", "--format", "json", "--root"])
            .arg(root.path())
            .args(&dirs)
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["summary"]["backends"].as_array().unwrap().len(), 1, "{name}");
        assert_eq!(v["summary"]["backends"][0], *b, "{name}: the same requests, 5xx and rate");
    }
    let want_f: BTreeSet<Key> = want["findings"].as_array().unwrap().iter().map(key).collect();
    assert_eq!(fleet_findings(&output), want_f);
    // The Parquet copy, partitioned by lb/dt, read back by Spark.
    let py = repo().join("target/fleet-venv/bin/python");
    let n = Command::new(py)
        .args(["-c", "import sys; from pyspark.sql import SparkSession; s = SparkSession.builder.master('local[1]').config('spark.ui.enabled', 'false').getOrCreate(); d = s.read.parquet(sys.argv[1]); print(d.count(), d.select('lb').distinct().count(), d.select('dt').distinct().count())"])
        .arg(output.join("findings/parquet"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&n.stdout);
    let counts: Vec<usize> = text.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    assert_eq!(counts, [want_f.len(), 3, 1], "{text} {}", String::from_utf8_lossy(&n.stderr));
}

#[test]
fn bad_objects_are_reported_and_a_format_change_fails_loudly() {
    let d = tempfile::tempdir().unwrap();
    let (input, output) = (d.path().join("in"), d.path().join("out"));
    generate(&input, 20_000);
    let day = input.join("AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/11/25");
    let mut objects: Vec<PathBuf> = std::fs::read_dir(&day).unwrap().map(|e| e.unwrap().path()).collect();
    objects.sort();
    // A truncated .gz, an object that cannot be read, an object of another kind.
    let gz = objects.iter().find(|p| p.extension().is_some_and(|e| e == "gz")).unwrap().clone();
    let bytes = std::fs::read(&gz).unwrap();
    std::fs::write(&gz, &bytes[..bytes.len() / 2]).unwrap();
    let broken = day.join("123456789012_elasticloadbalancing_us-east-1_shop-web_20261125T0400Z_10.0.200.10_deadbeef.log");
    std::os::unix::fs::symlink(d.path().join("gone"), &broken).unwrap();
    let nginx = day.join("123456789012_elasticloadbalancing_us-east-1_shop-web_20261125T0405Z_10.0.200.11_cafe0001.log");
    std::fs::write(&nginx, "10.0.0.9 - - [25/Nov/2026:07:00:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"curl/8\"\n").unwrap();
    let out = fleet(&input, &output);
    assert!(out.status.success(), "{}", said(&out));
    let s = summary(&output);
    let errors: Vec<&str> = s["errors"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    let gz_name = gz.display().to_string();
    assert!(errors.iter().any(|e| e.starts_with(&gz_name) && e.contains("truncated")), "{errors:?}");
    assert!(errors.iter().any(|e| e.starts_with(&broken.display().to_string()) && e.contains("cannot read")), "{errors:?}");
    assert!(errors.iter().any(|e| e.starts_with(&nginx.display().to_string()) && e.contains("not an ELB/ALB log")), "{errors:?}");
    // The rest is complete: every finding tailgate makes of the files that are fine is there.
    std::fs::remove_file(&broken).unwrap();
    std::fs::remove_file(&nginx).unwrap();
    let want = reference(&input);
    let got = fleet_findings(&output);
    let gz_lines = |k: &Key| k.0 == gz_name;
    let want_f: BTreeSet<Key> = want["findings"].as_array().unwrap().iter().map(key).filter(|k| !gz_lines(k)).collect();
    assert_eq!(got.iter().filter(|k| !gz_lines(k)).cloned().collect::<BTreeSet<_>>(), want_f);
    assert!(got.iter().any(gz_lines), "the truncated object's lines before the damage are used");

    // A format change: 5 % of the lines no longer parse — the job fails, saying so.
    let victim = objects.iter().find(|p| p.extension().is_some_and(|e| e == "log")).unwrap();
    let text = std::fs::read_to_string(victim).unwrap();
    let total: usize = s["elb_lines"].as_u64().unwrap() as usize;
    let mut changed = String::new();
    for (i, l) in text.lines().enumerate() {
        changed.push_str(l);
        if i < total / 20 {
            changed.push_str("\n2026-11-25T03:00:00.000000Z shop-web 1.2.3.4:5 10.0.1.10:80 new-field");
        }
        changed.push('\n');
    }
    std::fs::write(victim, changed).unwrap();
    let out2 = d.path().join("out2");
    let o = fleet(&input, &out2);
    assert_eq!(o.status.code(), Some(3), "{}", said(&o));
    assert!(said(&o).contains("are not ELB/ALB lines"), "{}", said(&o));
    let s2: Value = serde_json::from_str(&std::fs::read_to_string(out2.join("summary.json")).unwrap()).unwrap();
    assert!(s2["failed"].as_str().unwrap().contains("format change"), "{s2}");
}

/// With the instances' own logs in storage (`--instance-logs PREFIX`, PREFIX/<ip>/…), each such
/// instance gets what `tailgate --correlate DIR --log <its logs> --backend <ip>` says: the same
/// summary and findings, evidence included.
#[test]
fn with_an_instances_logs_spark_gives_that_instances_answers() {
    let d = tempfile::tempdir().unwrap();
    let (input, output, logs) = (d.path().join("in"), d.path().join("out"), d.path().join("instances"));
    // A Classic ELB + nginx pair from the project's generator, the ELB log split between two LB
    // nodes' objects, beside a generated fleet (ALB lines too).
    let pair = d.path().join("pair");
    let st = Command::new("python3")
        .arg(repo().join("tests/fixtures/bench/gen_logs.py"))
        .args(["--pair", pair.to_str().unwrap(), "--lines", "20000", "--seed", "5", "--backends", "4", "--skew-ms", "900"])
        .output()
        .unwrap();
    assert!(st.status.success());
    generate(&input, 6_000);
    let day = input.join("AWSLogs/123456789012/elasticloadbalancing/us-east-1/2024/03/14");
    std::fs::create_dir_all(&day).unwrap();
    let elb = std::fs::read_to_string(pair.join("elb.log")).unwrap();
    for node in 0..2 {
        let mine: String = elb.lines().enumerate().filter(|(i, _)| i % 2 == node).map(|(_, l)| format!("{l}\n")).collect();
        std::fs::write(day.join(format!("123456789012_elasticloadbalancing_us-east-1_prod-web-elb_20240314T0605Z_10.0.1.20{node}_0000000{node}.log")), mine)
            .unwrap();
    }
    let ip = "10.0.1.11";
    std::fs::create_dir_all(logs.join(ip)).unwrap();
    let access = logs.join(ip).join("access.log");
    std::fs::copy(pair.join("nginx_access.log"), &access).unwrap();
    let o = {
        let _one = SPARK.lock().unwrap_or_else(|e| e.into_inner());
        Command::new("bash")
            .arg(repo().join("fleet/run-local.sh"))
            .arg(&input)
            .arg(&output)
            .arg("--instance-logs")
            .arg(&logs)
            .env("TAILGATE", env!("CARGO_BIN_EXE_tailgate"))
            .env("TAILGATE_FLEET_VENV", repo().join("target/fleet-venv"))
            .output()
            .unwrap()
    };
    assert!(o.status.success(), "{}", said(&o));
    let root = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tailgate"))
        .args(["--correlate", "-q", "--format", "json", "--backend", ip, "--root"])
        .arg(root.path())
        .arg("--log")
        .arg(&access)
        .arg(&input)
        .output()
        .unwrap();
    let want: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(want["summary"]["matched"].as_u64().unwrap() > 30, "the instance's lines are evidence: {}", want["summary"]);
    let got: Value = serde_json::from_str(&std::fs::read_to_string(output.join("instances").join(ip).join("summary.json")).unwrap()).unwrap();
    assert_eq!(got, want["summary"]);
    let mut findings = BTreeSet::new();
    for e in std::fs::read_dir(output.join("instances").join(ip).join("findings")).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().starts_with("part-") {
            for l in std::fs::read_to_string(&p).unwrap().lines() {
                let f: Value = serde_json::from_str(l).unwrap();
                let ev: Vec<(String, u64)> =
                    f["evidence"].as_array().unwrap().iter().map(|e| (e["file"].as_str().unwrap().to_string(), e["line"].as_u64().unwrap())).collect();
                findings.insert((key(&f), ev));
            }
        }
    }
    let want_f: BTreeSet<(Key, Vec<(String, u64)>)> = want["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (key(f), f["evidence"].as_array().unwrap().iter().map(|e| (e["file"].as_str().unwrap().to_string(), e["line"].as_u64().unwrap())).collect()))
        .collect();
    assert_eq!(findings, want_f, "the same findings with the same evidence");
}

/// Stage 1 reads only the objects whose key is in the date range and names a chosen load
/// balancer, and the answers are those of tailgate on exactly those objects.
#[test]
fn the_key_prunes_by_day_and_load_balancer() {
    let d = tempfile::tempdir().unwrap();
    let (input, output, chosen) = (d.path().join("in"), d.path().join("out"), d.path().join("chosen"));
    for (day, seed) in [("2026-11-24", "3"), ("2026-11-25", "4"), ("2026-11-26", "5")] {
        let st = Command::new("python3")
            .arg(repo().join("fleet/gen_fleet_data.py"))
            .arg(&input)
            .args(["--lines", "3000", "--backends", "24", "--seed", seed, "--day", day])
            .status()
            .unwrap();
        assert!(st.success());
    }
    // What should be read: the 25th, the two Classic load balancers.
    let day = "AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/11/25";
    let (mut read, mut all) = (0, 0);
    std::fs::create_dir_all(chosen.join(day)).unwrap();
    for e in walk(&input) {
        all += 1;
        let name = e.file_name().unwrap().to_string_lossy().to_string();
        if e.to_string_lossy().contains(day) && (name.contains("_shop-web_") || name.contains("_shop-api_")) {
            std::fs::copy(&e, chosen.join(day).join(&name)).unwrap();
            read += 1;
        }
    }
    assert!(read > 0 && read < all);
    let o = fleet_with(&input, &output, &["--from", "2026-11-25", "--to", "2026-11-25", "--lb", "shop-web", "--lb", "shop-api"]);
    assert!(o.status.success(), "{}", said(&o));
    let s: Value = serde_json::from_str(&std::fs::read_to_string(output.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["objects"]["read"], read);
    assert_eq!(s["objects"]["skipped_by_key"], all - read);
    // The same answers as tailgate on those objects alone (their names differ only by the root).
    let want = reference(&chosen);
    let rename = |k: Key| (k.0.replace(chosen.to_str().unwrap(), input.to_str().unwrap()), k.1, k.2, k.3);
    let want_f: BTreeSet<Key> = want["findings"].as_array().unwrap().iter().map(key).map(rename).collect();
    assert_eq!(fleet_findings(&output), want_f);
    assert_eq!(summary(&output)["per_minute"], want["summary"]["per_minute"]);
    assert_eq!(summary(&output)["lb_5xx"], want["summary"]["lb_5xx"]);
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}
