// tailgate's HTML report: charts (uPlot), tables and filters over the page's JSON data islands.
// Every text from the data is set with textContent (log text is attacker-controlled): nothing is
// ever parsed as HTML. No network: the content security policy allows none.
(function () {
  "use strict";
  var PAGE = 500; // findings rows rendered per "show more"

  function el(tag, props, kids) {
    var e = document.createElement(tag);
    if (props) {
      for (var k in props) {
        if (k === "text") e.textContent = props[k];
        else if (k === "cls") e.className = props[k];
        else e.setAttribute(k, props[k]);
      }
    }
    (kids || []).forEach(function (c) {
      e.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    });
    return e;
  }
  function island(id) {
    var n = document.getElementById(id);
    return n ? JSON.parse(n.textContent) : null;
  }
  function fmt(n) {
    return typeof n === "number" ? n.toLocaleString("en-US") : String(n);
  }
  function minuteOf(iso) {
    return iso ? iso.slice(0, 16) : "";
  }
  function secs(iso) {
    return Date.parse(iso) / 1000;
  }
  function table(headers, rows, numeric) {
    var t = el("table", {}, [el("thead", {}, [el("tr", {}, headers.map(function (h, i) {
      return el("th", numeric && numeric[i] ? { cls: "num", text: h } : { text: h });
    }))])]);
    var body = el("tbody");
    rows.forEach(function (r) {
      body.appendChild(el("tr", {}, r.map(function (c, i) {
        return el("td", numeric && numeric[i] ? { cls: "num", text: fmt(c) } : { text: c == null ? "" : String(c) });
      })));
    });
    t.appendChild(body);
    return t;
  }

  // A zoomable per-minute chart; `onMinute(sec)` when a minute is clicked (not dragged).
  function chart(target, xs, series, bands, onMinute) {
    if (!xs.length || typeof uPlot === "undefined") {
      target.appendChild(el("p", { text: "no timed records" }));
      return null;
    }
    var width = Math.max(320, target.clientWidth || 900);
    var opts = {
      width: width,
      height: 260,
      scales: { x: { time: true } },
      // (the logs' times are UTC, as CloudWatch shows them)
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
      series: [{}].concat(series.map(function (s) {
        return { label: s.label, stroke: s.color, width: s.width || 1.5, scale: s.scale || "n", fill: s.fill, points: { show: false } };
      })),
      axes: [{ label: "UTC" }, { scale: "n", label: "5xx / min" }, { scale: "req", side: 1, label: "requests / min", grid: { show: false } }],
      cursor: { drag: { x: true, y: false } },
      hooks: {
        draw: [function (u) {
          var ctx = u.ctx;
          ctx.save();
          ctx.fillStyle = "rgba(198, 40, 40, 0.18)";
          bands.forEach(function (b) {
            var x0 = u.valToPos(b[0], "x", true), x1 = u.valToPos(b[1], "x", true);
            ctx.fillRect(x0 - 1, u.bbox.top, Math.max(x1 - x0, 2) + 2, u.bbox.height);
          });
          ctx.restore();
        }],
      },
    };
    var u = new uPlot(opts, [xs].concat(series.map(function (s) { return s.data; })), target);
    if (onMinute) {
      var downX = null;
      u.over.addEventListener("mousedown", function (e) { downX = e.clientX; });
      u.over.addEventListener("click", function (e) {
        if (downX !== null && Math.abs(e.clientX - downX) < 4 && u.cursor.idx != null) onMinute(xs[u.cursor.idx]);
        downX = null;
      });
    }
    window.addEventListener("resize", function () {
      u.setSize({ width: Math.max(320, target.clientWidth || 900), height: 260 });
    });
    return u;
  }

  function sparkline(counts, x0, x1) {
    var c = el("canvas", { cls: "spark", width: "160", height: "28" });
    var ctx = c.getContext("2d");
    if (!ctx || x1 <= x0) return c;
    var bins = new Array(80).fill(0), max = 0;
    counts.forEach(function (mc) {
      var i = Math.min(79, Math.floor(((mc[0] * 60) - x0) / (x1 - x0 + 60) * 80));
      bins[Math.max(0, i)] += mc[1];
    });
    bins.forEach(function (b) { if (b > max) max = b; });
    ctx.fillStyle = "#c62828";
    bins.forEach(function (b, i) {
      if (b) {
        var h = Math.max(1, Math.round(b / max * 26));
        ctx.fillRect(i * 2, 28 - h, 2, h);
      }
    });
    return c;
  }

  function correlate() {
    var data = island("tg-data-summary"), findings = island("tg-data-findings") || [];
    var s = data.summary;
    var meaning = {};
    data.causes.forEach(function (c) { meaning[c[0]] = c[1]; });
    var state = { cause: "", source: "", backend: "", status: "", path: "", minute: "", sort: "time", dir: 1, shown: PAGE };

    // Timeline: CloudWatch's HTTPCode_ELB_5XX / HTTPCode_Backend_5XX and the requests.
    var xs = s.per_minute.map(function (m) { return secs(m.minute); });
    var bands = s.bursts.map(function (b) { return [secs(b.first), secs(b.last)]; });
    // (window.tailgate: the chart, for a console or a test to drive)
    window.tailgate = {};
    window.tailgate.timeline = chart(document.getElementById("tg-timeline"), xs, [
      { label: "HTTPCode_ELB_5XX", color: "#c62828", data: s.per_minute.map(function (m) { return m.HTTPCode_ELB_5XX; }), width: 2 },
      { label: "HTTPCode_Backend_5XX", color: "#ef6c00", data: s.per_minute.map(function (m) { return m.HTTPCode_Backend_5XX; }), width: 2 },
      { label: "requests", color: "#8a94a6", data: s.per_minute.map(function (m) { return m.requests; }), scale: "req", width: 1 },
    ], bands, function (sec) {
      state.minute = minuteOf(new Date(sec * 1000).toISOString());
      state.shown = PAGE;
      render();
    });

    // Backends, ranked by rate (with --all-backends).
    if (s.backends && s.backends.length) {
      document.getElementById("tg-backends-section").hidden = false;
      var tb = document.querySelector("#tg-backends tbody");
      var x0 = xs.length ? xs[0] : 0, x1 = xs.length ? xs[xs.length - 1] : 0;
      s.backends.forEach(function (b, i) {
        tb.appendChild(el("tr", {}, [
          el("td", { cls: "mono", text: b.backend }),
          el("td", { cls: "num", text: fmt(b.requests) }),
          el("td", { cls: "num", text: fmt(b.lb_5xx) }),
          el("td", { cls: "num", text: (b.rate * 100).toFixed(2) + " %" }),
          el("td", {}, [sparkline(data.backend_minutes[i] || [], x0, x1)]),
        ]));
      });
    }

    // Filters' choices, from the findings themselves.
    function fill(id, values) {
      var sel = document.getElementById(id);
      Object.keys(values).sort().forEach(function (v) {
        sel.appendChild(el("option", { value: v, text: v + " (" + values[v] + ")" }));
      });
      sel.addEventListener("change", function () {
        state[id.slice(2)] = sel.value;
        state.shown = PAGE;
        render();
      });
    }
    var seen = { cause: {}, source: {}, backend: {}, status: {} };
    findings.forEach(function (f) {
      seen.cause[f.cause] = (seen.cause[f.cause] || 0) + 1;
      seen.source[f.source] = (seen.source[f.source] || 0) + 1;
      var b = f.elb.backend || "-";
      seen.backend[b] = (seen.backend[b] || 0) + 1;
      seen.status[f.elb.elb_status] = (seen.status[f.elb.elb_status] || 0) + 1;
    });
    fill("f-cause", seen.cause);
    fill("f-source", seen.source);
    fill("f-backend", seen.backend);
    fill("f-status", seen.status);
    var path = document.getElementById("f-path");
    path.addEventListener("input", function () {
      state.path = path.value;
      state.shown = PAGE;
      render();
    });
    document.getElementById("f-minute-clear").addEventListener("click", function () {
      state.minute = "";
      render();
    });
    Array.prototype.forEach.call(document.querySelectorAll(".cause-link"), function (b) {
      b.addEventListener("click", function () {
        var sel = document.getElementById("f-cause");
        sel.value = b.getAttribute("data-cause");
        state.cause = sel.value;
        state.shown = PAGE;
        render();
        document.getElementById("tg-findings-section").scrollIntoView();
      });
    });
    var keys = {
      time: function (f) { return f.elb.timestamp; },
      elb_status: function (f) { return f.elb.elb_status; },
      backend_status: function (f) { return f.elb.backend_status == null ? -1 : f.elb.backend_status; },
      source: function (f) { return f.source; },
      cause: function (f) { return f.cause; },
      backend: function (f) { return f.elb.backend || ""; },
      request: function (f) { return f.elb.request; },
      evidence: function (f) { return f.evidence.length; },
    };
    Array.prototype.forEach.call(document.querySelectorAll("#tg-findings th[data-sort]"), function (th) {
      th.addEventListener("click", function () {
        var k = th.getAttribute("data-sort");
        state.dir = state.sort === k ? -state.dir : 1;
        state.sort = k;
        render();
      });
    });
    var more = document.getElementById("tg-more");
    more.addEventListener("click", function () {
      state.shown += PAGE;
      render();
    });

    function matches(f) {
      return (!state.cause || f.cause === state.cause) &&
        (!state.source || f.source === state.source) &&
        (!state.backend || (f.elb.backend || "-") === state.backend) &&
        (!state.status || String(f.elb.elb_status) === state.status) &&
        (!state.minute || minuteOf(f.elb.timestamp) === state.minute) &&
        (!state.path || f.elb.request.indexOf(state.path) >= 0);
    }
    function detail(f) {
      var list = el("ul", { cls: "evidence" });
      f.evidence.forEach(function (e) {
        var parts = [e.file + ":" + e.line, e.kind];
        if (e.status != null) parts.push("status " + e.status);
        if (e.timestamp) parts.push(e.timestamp);
        if (e.problem) parts.push(typeof e.problem === "string" ? e.problem : JSON.stringify(e.problem));
        if (e.message) parts.push(e.message);
        list.appendChild(el("li", { text: parts.join("  ·  ") }));
      });
      if (!f.evidence.length) list.appendChild(el("li", { text: "no local line" }));
      return el("tr", { cls: "detail" }, [el("td", { colspan: "8" }, [
        el("div", { text: f.explanation }),
        el("div", { cls: "mono", text: "LB line " + f.elb.file + ":" + f.elb.line }),
        list,
      ])]);
    }
    function render() {
      var rows = findings.filter(matches);
      var key = keys[state.sort], dir = state.dir;
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        return x < y ? -dir : x > y ? dir : 0;
      });
      Array.prototype.forEach.call(document.querySelectorAll("#tg-findings th[data-sort]"), function (th) {
        th.className = th.getAttribute("data-sort") === state.sort ? (dir > 0 ? "asc" : "desc") : "";
      });
      var body = document.querySelector("#tg-findings tbody");
      var fresh = el("tbody");
      rows.slice(0, state.shown).forEach(function (f) {
        var tr = el("tr", { cls: "row", "data-cause": f.cause, "data-source": f.source }, [
          el("td", { cls: "mono", text: f.elb.timestamp }),
          el("td", { cls: "num", text: String(f.elb.elb_status) }),
          el("td", { cls: "num", text: f.elb.backend_status == null ? "-" : String(f.elb.backend_status) }),
          el("td", { cls: "src-" + f.source, text: f.source }),
          el("td", { text: f.cause, title: meaning[f.cause] || "" }),
          el("td", { cls: "mono", text: f.elb.backend || "-" }),
          el("td", { cls: "req", text: f.elb.request }),
          el("td", { cls: "num", text: String(f.evidence.length) }),
        ]);
        var open = null;
        tr.addEventListener("click", function () {
          if (open) {
            open.remove();
            open = null;
          } else {
            open = detail(f);
            tr.after(open);
          }
        });
        fresh.appendChild(tr);
      });
      body.replaceWith(fresh);
      var count = document.getElementById("tg-count");
      count.textContent = fmt(Math.min(rows.length, state.shown)) + " shown of " + fmt(rows.length) + " matching (" + fmt(findings.length) + " in all)";
      count.setAttribute("data-matching", String(rows.length));
      count.setAttribute("data-total", String(findings.length));
      more.hidden = rows.length <= state.shown;
      var box = document.getElementById("f-minute-box");
      box.hidden = !state.minute;
      document.getElementById("f-minute").textContent = state.minute ? state.minute.replace("T", " ") + " UTC" : "";
    }
    render();
  }

  function scan() {
    var data = island("tg-data-summary");
    var root = document.getElementById("tg-logs");
    data.logs.forEach(function (log) {
      var sec = el("section", { cls: "log", "data-path": log.path }, [el("h2", {}, [el("span", { cls: "mono", text: log.path }), el("small", { text: log.format || "" })])]);
      root.appendChild(sec);
      if (log.error) sec.appendChild(el("div", { cls: "errors", text: log.error }));
      sec.appendChild(el("p", { text: fmt(log.lines || 0) + " lines, " + fmt(log.records || 0) + " records, " + fmt(log.bad_lines || 0) + " bad" + (log.first_time ? ", " + log.first_time + " to " + log.last_time : "") }));
      var tl = log.timeline || {}, ms = Object.keys(tl).sort();
      var box = el("div", { cls: "chart" });
      sec.appendChild(box);
      chart(box, ms.map(secs), [
        { label: "HTTP 5xx", color: "#ef6c00", data: ms.map(function (m) { return tl[m].http_5xx; }), width: 2 },
        { label: "events", color: "#c62828", data: ms.map(function (m) { return tl[m].events; }), width: 2 },
        { label: "records", color: "#8a94a6", data: ms.map(function (m) { return tl[m].records; }), scale: "req", width: 1 },
      ], [], null);
      var cols = el("div", { cls: "cols" });
      sec.appendChild(cols);
      function part(title, node) {
        node.setAttribute("data-part", title);
        cols.appendChild(el("div", {}, [el("h3", { text: title }), node]));
      }
      var st = log.status_5xx || {};
      part("5xx by status", table(["status", "count"], Object.keys(st).sort().map(function (k) { return [k, st[k]]; }), [false, true]));
      var ev = log.events_by_kind || {};
      part("events by kind", table(["kind", "count"], Object.keys(ev).sort().map(function (k) { return [k, ev[k]]; }), [false, true]));
      var pr = log.problems || {};
      part("malformed output and upstream errors", table(["problem", "count"], Object.keys(pr).sort().map(function (k) { return [k, pr[k]]; }), [false, true]));
      part("top failing paths", table(["path", "5xx"], (log.top_failing_paths || []).map(function (p) { return [p[0], p[1]]; }), [false, true]));
      part("bad lines", table(["line", "reason", "the line (start)"], (log.bad_examples || []).map(function (b) { return [b.line, b.reason, b.excerpt]; }), [true, false, false]));
      sec.appendChild(el("h3", { text: "example events" }));
      sec.appendChild(table(["line", "time", "kind", "status", "request", "detail"], (log.events || []).map(function (e) {
        return [e.file + ":" + e.line, e.timestamp || "", e.kind, e.status == null ? "" : e.status, e.request || "", e.message || e.problem || e.user_agent || ""];
      })));
    });
  }

  if (document.body.getAttribute("data-mode") === "scan") scan();
  else correlate();
  // (when the page became usable, in ms since navigation began: the bench reads it)
  document.body.setAttribute("data-ready-ms", String(Math.round(performance.now())));
  document.body.setAttribute("data-ready", "1");
  if (window.performance && performance.mark) performance.mark("tg-ready");
})();
