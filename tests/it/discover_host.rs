//! Discovery on this very machine (no --root): the Debian nginx and Apache that the README's
//! test command installs, with their compiled-in defaults read from `nginx -V` / `apache2 -V`.

use crate::support;

use std::process::Command;

use serde_json::Value;

#[test]
fn real_debian_nginx_and_apache_are_discovered() {
    support::need("nginx");
    support::need("apache2");
    let out = Command::new(env!("CARGO_BIN_EXE_tailgate")).args(["--discover", "--format", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["platform"]["family"], "debian", "{d}");
    let compiled: Vec<&str> = d["compiled_in"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(
        compiled.iter().any(|c| c.starts_with("nginx: /usr/sbin/nginx -V") && c.contains("error-log-path stderr") && c.contains("prefix /usr/share/nginx")),
        "{compiled:?}"
    );
    assert!(compiled.iter().any(|c| c.starts_with("apache: /usr/sbin/apache2 -V") && c.contains("server root /etc/apache2")), "{compiled:?}");
    let sources = d["sources"].as_array().unwrap();
    let find = |server: &str, kind: &str, path: &str| {
        sources
            .iter()
            .find(|s| s["server"] == server && s["kind"] == kind && s["target"]["value"] == path)
            .unwrap_or_else(|| panic!("no {server} {kind} {path} in {sources:#?}"))
    };
    let a = find("nginx", "access", "/var/log/nginx/access.log");
    assert!(a["origin"]["file"] == "/etc/nginx/nginx.conf", "{a}");
    assert_eq!(a["format_name"], "combined");
    find("nginx", "error", "/var/log/nginx/error.log");
    let e = find("apache", "error", "/var/log/apache2/error.log");
    assert_eq!(e["origin"]["file"], "/etc/apache2/apache2.conf");
    find("apache", "access", "/var/log/apache2/access.log");
    find("apache", "access", "/var/log/apache2/other_vhosts_access.log");
    // Debian's Apache default KeepAliveTimeout 5 is shorter than the LB's 60 s idle timeout.
    let ka = d["keepalive"].as_array().unwrap();
    let ap = ka.iter().find(|k| k["server"] == "apache").unwrap();
    assert_eq!((ap["timeout_secs"].as_u64(), ap["ok"].as_bool()), (Some(5), Some(false)));
    let ng = ka.iter().find(|k| k["server"] == "nginx").unwrap();
    assert_eq!(ng["ok"], true);
}

/// A server started with a config in a non-default place is found through its command line.
#[test]
fn running_servers_with_non_default_configs_are_found() {
    let backend = support::Backend::start();
    let dn = support::server_dir();
    let _ng = support::nginx(dn.path(), backend.port, None);
    let da = support::server_dir();
    let _ap = support::apache(da.path(), backend.port);
    let out = Command::new(env!("CARGO_BIN_EXE_tailgate")).args(["--discover", "--format", "json"]).output().unwrap();
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    let procs = d["platform"]["processes"].as_array().unwrap();
    assert!(procs.iter().any(|p| p["server"] == "nginx"), "{procs:#?}");
    let sources = d["sources"].as_array().unwrap();
    let has = |server: &str, path: &std::path::Path| {
        let p = path.display().to_string();
        assert!(
            sources.iter().any(|s| s["server"] == server && s["target"]["value"] == p && s["files"].as_array().unwrap().len() == 1),
            "no {server} source for {p}: {sources:#?}"
        );
    };
    has("nginx", &dn.path().join("access.log"));
    has("nginx", &dn.path().join("error.log"));
    has("apache", &da.path().join("access.log"));
    has("apache", &da.path().join("error.log"));
}
