//! A minimal Chrome DevTools Protocol client over real headless Chromium (Debian's `chromium`):
//! open a page, collect what the browser itself reports (exceptions, console and log entries,
//! every network request), evaluate expressions, take a screenshot.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// What the browser reported while the page lived.
#[derive(Debug, Default)]
pub struct Reported {
    /// Uncaught exceptions, console errors/warnings and error-level log entries (CSP violations
    /// are reported there).
    pub problems: Vec<String>,
    /// Every request the page made (URL).
    pub requests: Vec<String>,
}

pub struct Chrome {
    child: Child,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    session: String,
    next: u64,
    pub reported: Reported,
    _profile: tempfile::TempDir,
}

impl Drop for Chrome {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn chromium() -> std::path::PathBuf {
    crate::support::need("chromium")
}

impl Chrome {
    /// Start headless Chromium with a window of `w`×`h` and attach to a blank page.
    pub fn start(w: u32, h: u32) -> Chrome {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(chromium())
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--remote-debugging-port=0",
                "--hide-scrollbars",
            ])
            .arg(format!("--window-size={w},{h}"))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID"
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut url = None;
        let mut line = String::new();
        let t0 = Instant::now();
        while url.is_none() && t0.elapsed() < Duration::from_secs(60) {
            line.clear();
            if err.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            if let Some(i) = line.find("ws://") {
                url = Some(line[i..].trim().to_string());
            }
        }
        let url = url.expect("chromium printed no DevTools address");
        // (keep draining its stderr so it never blocks on a full pipe)
        std::thread::spawn(move || {
            let mut sink = String::new();
            while err.read_line(&mut sink).unwrap_or(0) > 0 {
                sink.clear();
            }
        });
        let (ws, _) = tungstenite::connect(url.as_str()).expect("connect to DevTools");
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        }
        let mut c = Chrome { child, ws, session: String::new(), next: 0, reported: Reported::default(), _profile: profile };
        let target = c.call_browser("Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"].as_str().unwrap().to_string();
        let attached = c.call_browser("Target.attachToTarget", json!({"targetId": target_id, "flatten": true}));
        c.session = attached["sessionId"].as_str().unwrap().to_string();
        for m in ["Runtime.enable", "Log.enable", "Network.enable", "Page.enable"] {
            c.call(m, json!({}));
        }
        c.call("Emulation.setDeviceMetricsOverride", json!({"width": w, "height": h, "deviceScaleFactor": 1, "mobile": false}));
        c
    }

    fn send(&mut self, session: Option<&str>, method: &str, params: Value) -> u64 {
        self.next += 1;
        let mut msg = json!({"id": self.next, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.ws.send(Message::text(msg.to_string())).expect("send to DevTools");
        self.next
    }

    /// Read one message; note events; return it.
    fn read(&mut self) -> Value {
        let m = self.ws.read().expect("DevTools connection (chromium died or hung?)");
        let v: Value = match m {
            Message::Text(t) => serde_json::from_str(t.as_str()).unwrap(),
            _ => return Value::Null,
        };
        let p = &v["params"];
        match v["method"].as_str() {
            Some("Runtime.exceptionThrown") => {
                let d = &p["exceptionDetails"];
                self.reported.problems.push(format!("exception: {} {} (line {})", d["text"], d["exception"]["description"], d["lineNumber"]));
            }
            Some("Runtime.consoleAPICalled") if matches!(p["type"].as_str(), Some("error" | "warning" | "assert")) => {
                self.reported.problems.push(format!("console.{}: {}", p["type"], p["args"]));
            }
            Some("Log.entryAdded") if matches!(p["entry"]["level"].as_str(), Some("error" | "warning")) => {
                self.reported.problems.push(format!("log {}: {}", p["entry"]["source"], p["entry"]["text"]));
            }
            Some("Network.requestWillBeSent") => {
                self.reported.requests.push(p["request"]["url"].as_str().unwrap_or("").to_string());
            }
            _ => {}
        }
        v
    }

    fn wait_reply(&mut self, id: u64) -> Value {
        loop {
            let v = self.read();
            if v["id"].as_u64() == Some(id) {
                if !v["error"].is_null() {
                    panic!("DevTools error: {}", v["error"]);
                }
                return v["result"].clone();
            }
        }
    }

    fn call_browser(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(None, method, params);
        self.wait_reply(id)
    }

    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let s = self.session.clone();
        let id = self.send(Some(&s), method, params);
        self.wait_reply(id)
    }

    /// Open `file` and wait for its load event; what the browser reports starts afresh.
    pub fn open(&mut self, file: &Path) -> String {
        self.reported = Reported::default();
        let url = format!("file://{}", file.display());
        self.call("Page.navigate", json!({"url": url}));
        let t0 = Instant::now();
        loop {
            let v = self.read();
            if v["method"] == "Page.loadEventFired" {
                return url;
            }
            assert!(t0.elapsed() < Duration::from_secs(120), "the page did not load");
        }
    }

    /// The value of a JavaScript expression (awaited when it is a promise).
    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.call("Runtime.evaluate", json!({"expression": expr, "returnByValue": true, "awaitPromise": true}));
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{expr}: {e}");
        }
        r["result"]["value"].clone()
    }

    /// Wait until `expr` is true.
    pub fn wait_for(&mut self, expr: &str) {
        let t0 = Instant::now();
        while self.eval(expr) != json!(true) {
            assert!(t0.elapsed() < Duration::from_secs(60), "never true: {expr}; the browser reported: {:#?}", self.reported.problems);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A PNG screenshot of the viewport.
    pub fn screenshot(&mut self) -> Vec<u8> {
        use base64::Engine;
        let r = self.call("Page.captureScreenshot", json!({"format": "png"}));
        base64::engine::general_purpose::STANDARD.decode(r["data"].as_str().unwrap()).unwrap()
    }
}
