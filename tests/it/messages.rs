//! Every backend-failure message in tests/fixtures/errorlogs/messages.md, written in the exact line
//! shape its server uses, maps to the right problem and event kind, with request, upstream and
//! time pulled out of the line.

use tailgate::detect::{EventKind, Problem, classify, error_problem};
use tailgate::format::{Format, Record};

const NGX_PREFIX: &str = "2026/11/25 08:00:00 [error] 100#100: *5 ";
const NGX_CTX: &str = r#", client: 10.0.0.2, server: _, request: "GET /x?y=1 HTTP/1.1", upstream: "http://127.0.0.1:9000/x?y=1", host: "h""#;

fn nginx(msg: &str) -> Option<Problem> {
    let line = format!("{NGX_PREFIX}{msg}{NGX_CTX}");
    let mut p = Format::NginxError.parser();
    let rec = p.parse(line.as_bytes()).unwrap_or_else(|e| panic!("{e}: {line}"));
    let Record::Error(e) = rec else { panic!() };
    assert_eq!(e.request.unwrap().path(), b"/x?y=1", "{line}");
    assert_eq!(e.upstream, Some(&b"http://127.0.0.1:9000/x?y=1"[..]), "{line}");
    assert_eq!(e.time.to_rfc3339(), "2026-11-25T08:00:00");
    let class = classify(&rec);
    let prob = error_problem(&e);
    if let (Some(c), Some(p)) = (class, prob) {
        let want = if p.is_malformed_output() { EventKind::MalformedOutput } else { EventKind::UpstreamError };
        assert_eq!(c.kind, want);
    }
    prob
}

#[test]
fn nginx_messages() {
    use Problem::*;
    let cases: &[(&str, Problem)] = &[
        ("upstream prematurely closed connection while reading response header from upstream", PrematureClose),
        ("upstream prematurely closed connection while reading upstream", PrematureClose),
        ("upstream sent too big header while reading response header from upstream", TooBigHeader),
        (
            r#"upstream sent duplicate header line: "Content-Length: 5", previous value: "Content-Length: 4" while reading response header from upstream"#,
            DuplicateHeader,
        ),
        (r#"upstream sent "Content-Length" and "Transfer-Encoding" headers at the same time while reading response header from upstream"#, LengthAndChunked),
        (r#"upstream sent invalid "Content-Length" header: "Content-Length: 12a" while reading response header from upstream"#, InvalidContentLength),
        (r#"upstream sent unknown "Transfer-Encoding": "gzip" while reading response header from upstream"#, UnknownTransferEncoding),
        (r#"upstream sent more data than specified in "Content-Length" header while reading upstream"#, ExtraData),
        ("upstream timed out (110: Connection timed out) while reading response header from upstream", Timeout),
        ("no live upstreams while connecting to upstream", NoLiveUpstream),
        ("connect() failed (111: Connection refused) while connecting to upstream", ConnectFailed),
        ("connect() failed (113: No route to host) while connecting to upstream", ConnectFailed),
        ("connect() to unix:/run/php/php-fpm.sock failed (2: No such file or directory) while connecting to upstream", ConnectFailed),
        ("connect() to unix:/run/php/php-fpm.sock failed (13: Permission denied) while connecting to upstream", ConnectFailed),
        ("recv() failed (104: Connection reset by peer) while reading response header from upstream", ConnectionReset),
        ("readv() failed (104: Connection reset by peer) while reading upstream", ConnectionReset),
        ("writev() failed (32: Broken pipe) while sending request to upstream", RequestSendFailed),
        ("upstream prematurely sent response while SSL handshaking to upstream", TlsError),
        ("upstream SSL certificate verify error: (10:certificate has expired) while SSL handshaking to upstream", TlsError),
        (r#"upstream SSL certificate does not match "backend.internal" while SSL handshaking to upstream"#, TlsError),
        ("upstream sent no valid HTTP/1.0 header while reading response header from upstream", InvalidStatusLine),
        (r#"upstream sent invalid header: "X-Bad\x01..." while reading response header from upstream"#, InvalidHeader),
        ("upstream sent invalid header while reading response header from upstream", InvalidHeader),
        ("upstream sent invalid chunked response while reading upstream", BadChunking),
        ("upstream sent data after final chunk while reading upstream", ExtraData),
        ("upstream sent data after trailers while reading upstream", ExtraData),
        (r#"upstream sent invalid trailer: "X\x00..." while reading upstream"#, BadTrailer),
        ("upstream sent too big trailers while reading upstream", BadTrailer),
        ("upstream prematurely closed FastCGI stdout while reading response header from upstream", PrematureClose),
        ("upstream prematurely closed FastCGI request while reading upstream", PrematureClose),
        (r#"FastCGI sent in stderr: "PHP message: PHP Fatal error:  Allowed memory size exhausted" while reading response header from upstream"#, AppStderr),
        (r#"upstream sent invalid status "abc" while reading response header from upstream"#, InvalidStatusLine),
        ("upstream split a header line in FastCGI records while reading response header from upstream", InvalidHeader),
        ("invalid header after joining FastCGI records while reading response header from upstream", InvalidHeader),
        ("upstream sent unexpected FastCGI record: 3 while reading response header from upstream", FastcgiProtocol),
        ("upstream sent unsupported FastCGI protocol version: 72 while reading response header from upstream", FastcgiProtocol),
        ("upstream sent invalid FastCGI record type: 9 while reading response header from upstream", FastcgiProtocol),
        ("upstream sent unexpected FastCGI request id high byte: 1 while reading response header from upstream", FastcgiProtocol),
    ];
    for (msg, want) in cases {
        assert_eq!(nginx(msg), Some(*want), "{msg}");
    }
    // Not a backend failure: no event.
    assert_eq!(nginx("open() \"/usr/share/nginx/html/favicon.ico\" failed (2: No such file or directory)"), None);
}

fn apache(line: &str) -> Option<Problem> {
    let mut p = Format::ApacheError.parser();
    let rec = p.parse(line.as_bytes()).unwrap_or_else(|e| panic!("{e}: {line}"));
    let Record::Error(e) = rec else { panic!() };
    error_problem(&e)
}

#[test]
fn apache_messages() {
    use Problem::*;
    let t = "[Wed Nov 25 08:00:00.123456 2026]";
    let c = "[client 10.0.0.2:41234]";
    let cases: Vec<(String, Problem)> = vec![
        (format!("{t} [proxy_http:error] [pid 7:tid 8] (104)Connection reset by peer: {c} AH01102: error reading status line from remote server 127.0.0.1:9000"), ConnectionReset),
        (format!("{t} [proxy_http:error] [pid 7] (70007)The timeout specified has expired: {c} AH01102: error reading status line from remote server 127.0.0.1:9000"), Timeout),
        (format!("{t} [proxy_http:error] [pid 7] (20014)Internal error (specific information not available): {c} AH01102: error reading status line from remote server 127.0.0.1:9000"), PrematureClose),
        (format!("{t} [proxy:error] [pid 7] {c} AH00898: Error reading from remote server returned by /x"), ProxyError),
        (format!("{t} [proxy:error] [pid 7] {c} AH00898: Corrupt status line returned by remote server: FOO returned by /x"), InvalidStatusLine),
        (format!("{t} [proxy:error] [pid 7] {c} AH00898: Malformed connection header returned by /x"), InvalidHeader),
        (format!("{t} [proxy:error] [pid 7] {c} AH00898: Timeout on 100-Continue returned by /x"), Timeout),
        (format!("{t} [proxy_http:warn] [pid 7] {c} AH01106: bad HTTP/1.1 header returned by /x (GET)"), InvalidHeader),
        (format!("{t} [proxy_http:error] [pid 7] (104)Connection reset by peer: {c} AH01110: error reading response"), PrematureClose),
        (format!("{t} [proxy_http:error] [pid 7] {c} AH01114: HTTP: failed to make connection to backend: 127.0.0.1"), ConnectFailed),
        (format!("{t} [proxy:error] [pid 7] (111)Connection refused: AH00957: http: attempt to connect to 127.0.0.1:9000 (127.0.0.1:9000) failed"), ConnectFailed),
        (format!("{t} [proxy:error] [pid 7] AH00959: ap_proxy_connect_backend disabling worker for (127.0.0.1:9000) for 60s"), ConnectFailed),
        (format!("{t} [proxy_http:error] [pid 7] (32)Broken pipe: {c} AH01084: pass request body failed to 127.0.0.1:9000 (127.0.0.1)"), RequestSendFailed),
        (format!("{t} [proxy_http:error] [pid 7] (32)Broken pipe: {c} AH01097: pass request body failed to 127.0.0.1:9000 (127.0.0.1) from 10.0.0.2 ()"), RequestSendFailed),
        (format!("{t} [proxy_http:error] [pid 7] {c} AH01095: prefetch request body failed to 127.0.0.1:9000 (127.0.0.1) from 10.0.0.2 ()"), RequestSendFailed),
        (format!("{t} [proxy_fcgi:error] [pid 7] {c} AH01067: Failed to read FastCGI header"), PrematureClose),
        (format!("{t} [proxy_fcgi:error] [pid 7] (104)Connection reset by peer: {c} AH01075: Error dispatching request to : "), ConnectionReset),
        (format!("{t} [proxy_fcgi:error] [pid 7] {c} AH01068: Got bogus version 72"), FastcgiProtocol),
        (format!("{t} [proxy_fcgi:error] [pid 7] {c} AH01069: Got bogus rid 2, expected 1"), FastcgiProtocol),
        (format!("{t} [proxy_fcgi:error] [pid 7] {c} AH01070: Error parsing script headers"), InvalidHeader),
        (format!("{t} [proxy_fcgi:error] [pid 7] {c} AH01071: Got error 'PHP message: PHP Fatal error'"), AppStderr),
        (format!("{t} [proxy_fcgi:error] [pid 7] {c} AH02537: Error occurred reading padding"), FastcgiProtocol),
        (format!("{t} [cgi:error] [pid 7] {c} End of script output before headers: app.cgi"), ScriptEndedEarly),
        (format!("{t} [core:error] [pid 7] {c} Premature end of script headers: app.cgi"), ScriptEndedEarly),
        (format!("{t} [cgid:error] [pid 7] {c} AH01220: Timeout waiting for output from CGI script /usr/lib/cgi-bin/slow"), Timeout),
        (format!("{t} [cgi:error] [pid 7] {c} malformed header from script 'app.cgi': Bad header: hello world"), InvalidHeader),
        (format!("{t} [cgi:error] [pid 7] {c} Invalid status line from script 'app.cgi': xyz"), InvalidStatusLine),
        (format!("{t} [cgi:error] [pid 7] {c} AH01215: stderr from /usr/lib/cgi-bin/app.cgi: boom"), AppStderr),
        (format!("{t} [cgi:error] [pid 7] {c} AH01215: boom"), AppStderr),
        (format!("{t} [http:error] [pid 7] {c} AH02429: Response header name 'X Bad' contains invalid characters, aborting request"), InvalidHeader),
        (format!("{t} [http:error] [pid 7] {c} AH02430: Response header 'X-A' value of 'a\\x01' contains invalid characters, aborting request"), InvalidHeader),
        // Apache 2.2 shapes (no module, no AH codes)
        ("[Fri Jun 14 21:50:41 2013] [error] [client 66.249.73.38] Premature end of script headers: php54.cgi".into(), ScriptEndedEarly),
        ("[Fri Jun 14 21:50:41 2013] [error] [client 66.249.73.38] (104)Connection reset by peer: proxy: error reading status line from remote server 127.0.0.1".into(), ConnectionReset),
    ];
    for (line, want) in &cases {
        assert_eq!(apache(line), Some(*want), "{line}");
    }
    assert_eq!(apache(&format!("{t} [mpm_event:notice] [pid 7:tid 8] AH00489: Apache/2.4.71 (Debian) configured -- resuming normal operations")), None);
}
