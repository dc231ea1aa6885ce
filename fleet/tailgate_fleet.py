"""tailgate on Apache Spark: `tailgate --correlate --all-backends` for a fleet's load-balancer logs.

The same answers as one machine would give, with tailgate's own parsers and matcher doing the
work on the executors (the binary ships with the job); Spark only lists, routes and merges.

1. list   — the ELB/ALB objects under a prefix (a local directory, or any Hadoop file system:
            s3a://, hdfs://), in tailgate's order (each directory's entries sorted, depth first),
            pruned by date and load-balancer name read from the key
            (`AWSLogs/<acct>/elasticloadbalancing/<region>/yyyy/mm/dd/<acct>_elasticloadbalancing_
            <region>_<lb>_…`): nothing outside the range is read.
2. route  — every line to its (load balancer, backend) group: the backend token is field 4 of a
            Classic line, 5 of an ALB line, both before any quoted field, so fields AWS adds later
            cannot move it. Lines without a backend go to the load balancer's `-` group; lines too
            short to route go to the `-` group of their object's load balancer (tailgate reports
            them there as bad lines, with its own reason).
3. correlate — one task per group pipes the group's lines, in input order (object, then line),
            through `tailgate --correlate --all-backends --format json -`; a backend's lines are
            all in one task, so its bursts and counts are exact. Positions are mapped back to
            (object, line). The idle timeout is inferred once, by tailgate, from the ALB 504 lines
            of every group, and given to each group.
4. merge  — per-minute counts, causes and totals add up; bursts, backends and bad-line examples
            are put in tailgate's order; findings are written as Parquet partitioned by lb/dt and
            as NDJSON parts; `summary.json` has the schema and values of tailgate's own summary.

Bad input is reported per object in `summary.json` (`errors`) and the rest completes; more than
1 % bad lines (a format change) fails the job loudly instead of returning empty answers.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zlib

# Object keys as the load balancers write them.
KEY_RE = re.compile(
    r"AWSLogs/(?P<acct>[^/]+)/elasticloadbalancing/(?P<region>[^/]+)/(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/"
    r"(?P<file>[^/]+)$"
)
# `<acct>_elasticloadbalancing_<region>_<lb>_<yyyymmddThhmmZ>_<ip>_<random>.log[.gz]`; an ALB's `<lb>` is
# `app.<name>.<id>` (its lines say `app/<name>/<id>`).
FILE_RE = re.compile(r"^[^_]+_elasticloadbalancing_[^_]+_(?P<lb>.+)_\d{8}T\d{4}Z_[^_]+_[^_]+\.log(\.gz)?$")
MAX_BAD_FRACTION = 0.01


def key_info(path):
    """(date `yyyy-mm-dd`, load-balancer name as its lines write it) from an object's key."""
    m = KEY_RE.search(path.replace("\\", "/"))
    if not m:
        return None, None
    day = "%s-%s-%s" % (m["y"], m["m"], m["d"])
    f = FILE_RE.match(m["file"])
    lb = None
    if f:
        lb = f["lb"]
        if lb.startswith("app.") or lb.startswith("net."):
            parts = lb.split(".")
            lb = "/".join([parts[0], ".".join(parts[1:-1]), parts[-1]])
    return day, lb


def list_local(root):
    """Files under `root`, as tailgate lists them: each directory's entries sorted, depth first,
    each directory and file once (by device and inode)."""
    out, seen_dirs, seen_files = [], set(), set()

    def walk(d):
        try:
            st = os.stat(d)
        except OSError:
            return
        if (st.st_dev, st.st_ino) in seen_dirs:
            return
        seen_dirs.add((st.st_dev, st.st_ino))
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            try:
                st = os.stat(p)
            except OSError:
                out.append(p)  # reported when read
                continue
            if os.path.isdir(p):
                walk(p)
            elif (st.st_dev, st.st_ino) not in seen_files:
                seen_files.add((st.st_dev, st.st_ino))
                out.append(p)

    if os.path.isdir(root):
        walk(root)
    elif os.path.exists(root):
        out.append(root)
    return out


def list_hadoop(spark, prefix):
    """Files under a Hadoop-file-system prefix (s3a://…), sorted the same way."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    path = jvm.org.apache.hadoop.fs.Path(prefix)
    fs = path.getFileSystem(conf)
    it = fs.listFiles(path, True)
    out = []
    while it.hasNext():
        out.append(it.next().getPath().toString())
    return sorted(out)


def read_bytes(path):
    if "://" in path and not path.startswith("file://"):
        raise RuntimeError("remote objects are read through Spark's binaryFiles")
    with open(path, "rb") as f:
        return f.read()


def lines_of(path, data):
    """(line number, bytes) of an object, gzip found by its magic bytes; an error after the
    lines read so far (a truncated .gz keeps what came before the damage)."""
    err = None
    if data[:2] == b"\x1f\x8b":
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            text = d.decompress(data)
            # (members after the first, as gzip concatenations write them)
            while d.unused_data:
                rest = d.unused_data
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                text += d.decompress(rest)
            if not d.eof:
                err = "truncated gzip"
        except zlib.error as e:
            text = b""
            err = "bad gzip data: %s" % e
    else:
        text = data
    lines = text.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif err and lines:
        lines.pop()  # a cut line is not a line
    return [(i + 1, l) for i, l in enumerate(lines)], err


ALB_TYPES = (b"http", b"https", b"h2", b"grpcs", b"ws", b"wss")


def looks_like_lb(line):
    """Whether an object's first line is a load balancer's (Classic: an ISO time first; ALB: a
    request type, then one): only to skip objects of another kind whole; tailgate parses."""
    f = line.split(b" ", 2)
    t = f[1] if f[0] in ALB_TYPES and len(f) > 1 else f[0]
    return len(t) > 19 and t[:2] == b"20" and t[4:5] == b"-" and t[10:11] == b"T"


def route(line, object_lb, object_kind):
    """The group of a line: `(kind, backend, "")` for a line with a backend — Classic `time elb
    client backend …`, ALB `type time elb client target …` — and `(kind, "-", lb)` for one
    without (or that cannot be routed: its object's load balancer's). A backend's lines are in
    one group whatever load balancer they came through, as one machine counts them; Classic and
    ALB lines apart (tailgate reads one format per input)."""
    f = line.split(b" ", 5)
    if len(f) >= 5 and f[0][:1].isdigit():
        kind, lb, backend = "classic", f[1], f[3]
    elif len(f) >= 6 and not f[0][:1].isdigit():
        kind, lb, backend = "alb", f[2], f[4]
    else:
        return (object_kind, "-", object_lb or "-")
    backend = backend.decode("utf-8", "replace")
    if backend == "-":
        return (kind, "-", lb.decode("utf-8", "replace"))
    return (kind, backend, "")


def run_tailgate(binary, lines, idle, extra=()):
    """Pipe lines through `tailgate --correlate --all-backends --format json -`."""
    root = tempfile.mkdtemp(prefix="tailgate-root-")
    try:
        args = [binary, "--correlate", "-q", "--all-backends", "--root", root, "--format", "json"]
        if idle is not None:
            args += ["--lb-idle-timeout", str(idle)]
        args += list(extra) + ["-"]
        p = subprocess.run(args, input=b"".join(l + b"\n" for l in lines), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode not in (0, 2) or not p.stdout:
            raise RuntimeError("tailgate failed (%d): %s" % (p.returncode, p.stderr.decode("utf-8", "replace")))
        return json.loads(p.stdout)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def correlate_group(binary, idle, names, group, batches):
    """Stage 3 for one group: its lines in input order through tailgate; positions mapped back."""
    items = [(o, n, l) for o, ns, blob in sorted(batches, key=lambda b: b[0]) for n, l in zip(ns, blob.split(b"\n"))]
    doc = run_tailgate(binary, [t for _, _, t in items], idle)
    pos = [(names[o], n, o) for o, n, _ in items]

    def place(line):
        name, n, o = pos[line - 1]
        return name, n, o

    s = doc["summary"]
    for b in s.get("bad_examples", []):
        b["file"], b["line"], b["_order"] = place(b["line"])
        b["_order"] = (b["_order"], b["line"])
    for b in s.get("bursts", []):
        n = int(b["first_line"].rsplit(":", 1)[1])
        name, line, _ = place(n)
        b["first_line"] = "%s:%d" % (name, line)
    first = (items[0][0], items[0][1]) if items else (0, 0)
    out = [("summary", {"summary": s, "first": first, "group": group})]
    for f in doc["findings"]:
        name, line, _ = place(f["elb"]["line"])
        f["elb"]["file"], f["elb"]["line"] = name, line
        out.append(("finding", f))
    return out


def host_of(backend):
    """`10.0.1.11` of `10.0.1.11:80`, `fd00::1` of `[fd00::1]:80`."""
    if backend.startswith("["):
        return backend[1:].split("]", 1)[0]
    return backend.rsplit(":", 1)[0] if backend.count(":") == 1 else backend


def instance_files(prefix, ip):
    d = os.path.join(prefix, ip)
    return list_local(d) if os.path.isdir(d) else []


def correlate_instance(binary, names, prefix, ip, items):
    """`tailgate --correlate … --log <ip's logs> --backend <ip>` on the lines in its scope (its
    own and those without a backend), Classic and ALB lines as two inputs; positions mapped."""
    logs = instance_files(prefix, ip)
    d = tempfile.mkdtemp(prefix="tailgate-instance-")
    try:
        root = os.path.join(d, "root")
        os.mkdir(root)
        inputs, pos = [], {}
        for kind in ("classic", "alb"):
            mine = sorted((o, n, t) for k, o, n, t in items if k == kind)
            if not mine:
                continue
            path = os.path.join(d, kind + ".log")
            with open(path, "wb") as f:
                f.write(b"".join(t + b"\n" for _, _, t in mine))
            inputs.append(path)
            pos[path] = [(names[o], n) for o, n, _ in mine]
        args = [binary, "--correlate", "-q", "--root", root, "--format", "json", "--backend", ip]
        for l in logs:
            args += ["--log", l]
        p = subprocess.run(args + inputs, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode not in (0, 2) or not p.stdout:
            raise RuntimeError("tailgate failed (%d): %s" % (p.returncode, p.stderr.decode("utf-8", "replace")))
        doc = json.loads(p.stdout)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    out = [("summary", (ip, doc["summary"]))]
    for f in doc["findings"]:
        f["elb"]["file"], f["elb"]["line"] = pos[f["elb"]["file"]][f["elb"]["line"] - 1]
        out.append(("finding", (ip, f)))
    return out


# What a correlation scoped to one instance says of the whole input (every line counts in them),
# and what it says of its scope.
WHOLE = ("elb_lines", "bad_lines", "per_minute", "bursts", "bad_examples", "inputs_failed")


def instance_summary(whole, scoped, errors):
    s = dict(scoped)
    for k in WHOLE:
        s[k] = whole[k]
    s.pop("backends", None)
    s["errors"] = list(errors) + [e for e in scoped.get("errors", []) if e not in errors]
    return s


def merge(partials, idle_timeout, errors):
    """Stage 4: the partial summaries as one, in tailgate's order."""
    s = {
        "elb_lines": 0, "bad_lines": 0, "lb_5xx": 0, "lb_generated": 0, "backend_generated": 0, "matched": 0,
        "clock_offset_ms": None, "lb_idle_timeout_s": idle_timeout, "per_minute": [], "bursts": [], "backends": [],
        "bad_examples": [], "local_logs": [], "causes": {}, "errors": list(errors), "inputs_failed": 0,
    }
    minutes, backends, bad = {}, [], []
    for p in partials:
        q = p["summary"]
        for k in ("elb_lines", "bad_lines", "lb_5xx", "lb_generated", "backend_generated", "matched", "inputs_failed"):
            s[k] += q.get(k, 0)
        for m in q.get("per_minute", []):
            acc = minutes.setdefault(m["minute"], {"minute": m["minute"], "HTTPCode_ELB_5XX": 0, "HTTPCode_Backend_5XX": 0, "requests": 0})
            for k in ("HTTPCode_ELB_5XX", "HTTPCode_Backend_5XX", "requests"):
                acc[k] += m[k]
        s["bursts"].extend(q.get("bursts", []))
        for b in q.get("backends", []):
            backends.append((p["first"], b))
        bad.extend(q.get("bad_examples", []))
        for c, n in q.get("causes", {}).items():
            s["causes"][c] = s["causes"].get(c, 0) + n
        s["errors"].extend(e for e in q.get("errors", []) if e not in s["errors"])
    s["per_minute"] = [minutes[k] for k in sorted(minutes)]
    s["bursts"].sort(key=lambda b: (-b["count"], b["first"], b["first_line"]))
    backends.sort(key=lambda fb: (-fb[1]["rate"], -fb[1]["lb_5xx"], fb[0]))
    s["backends"] = [b for _, b in backends]
    bad.sort(key=lambda b: b["_order"])
    s["bad_examples"] = [{"file": b["file"], "line": b["line"], "reason": b["reason"]} for b in bad[:10]]
    s["causes"] = dict(sorted(s["causes"].items()))
    if not s["backends"]:
        del s["backends"]
    return s


def write_text(spark, path, text):
    """A file on the driver's side: local, or through the Hadoop file system (s3a://…)."""
    if "://" not in path or path.startswith("file://"):
        path = path.replace("file://", "")
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return
    jvm = spark.sparkContext._jvm
    hp = jvm.org.apache.hadoop.fs.Path(path)
    out = hp.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).create(hp, True)
    out.write(bytearray(text.encode("utf-8")))
    out.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", help="prefix of the ELB/ALB logs: a directory, s3a://bucket/AWSLogs/…")
    ap.add_argument("output", help="output directory (summary.json, findings/)")
    ap.add_argument("--tailgate", default=os.environ.get("TAILGATE", "tailgate"), help="the tailgate binary (shipped to the executors with --files)")
    ap.add_argument("--from", dest="date_from", help="first day (yyyy-mm-dd) read")
    ap.add_argument("--to", dest="date_to", help="last day (yyyy-mm-dd) read")
    ap.add_argument("--lb", action="append", default=[], help="only these load balancers (repeatable; names as the lines write them)")
    ap.add_argument("--partitions", type=int, default=0, help="Spark partitions for the groups (default: the default parallelism)")
    ap.add_argument("--shards", action="store_true", help="also write each backend's lines as gzip text under "
                    "OUTPUT/shards/lb=…/backend=…/dt=…/ (in input order), for its agent's elb_log_dir")
    ap.add_argument("--instance-logs", metavar="PREFIX", help="the instances' own logs, under PREFIX/<backend-ip>/ (a path every executor sees): "
                    "for each, OUTPUT/instances/<ip>/ holds what `tailgate --correlate INPUT --log <its logs> --backend <ip>` says")
    a = ap.parse_args(argv)

    from pyspark.sql import SparkSession, Row

    spark = SparkSession.builder.appName("tailgate-fleet").getOrCreate()
    sc = spark.sparkContext
    t0 = time.time()
    binary = a.tailgate
    if os.path.basename(binary) == binary and shutil.which(binary) is None:
        # shipped with --files: on the executors it sits in the working directory
        binary = os.path.abspath(binary)

    # Stage 1: list, pruned by the key's date and load balancer.
    local = "://" not in a.input or a.input.startswith("file://")
    paths = list_local(a.input.replace("file://", "")) if local else list_hadoop(spark, a.input)
    chosen, skipped = [], 0
    for p in paths:
        day, lb = key_info(p)
        if (a.date_from and day and day < a.date_from) or (a.date_to and day and day > a.date_to) or (a.lb and lb and lb not in a.lb):
            skipped += 1
            continue
        chosen.append(p)
    names = chosen
    errors = []
    if not chosen:
        errors.append("%s: no files in this directory (is the S3 sync target right?)" % a.input)

    # Stage 2: read and route every line to its (load balancer, backend) group.
    if local:
        objects = sc.parallelize(list(enumerate(chosen)), max(1, min(len(chosen), sc.defaultParallelism * 4)))

        def read(ix):
            i, p = ix
            try:
                return [(i, p, read_bytes(p), None)]
            except OSError as e:
                return [(i, p, b"", "%s: cannot read: %s" % (p, e.strerror or e))]

        raw = objects.flatMap(read)
    else:
        index = {p: i for i, p in enumerate(chosen)}
        raw = sc.binaryFiles(",".join(chosen)).map(lambda kv: (index.get(kv[0], -1), kv[0], bytes(kv[1]), None))

    def explode(rec):
        i, p, data, err = rec
        if err:
            yield ("error", err)
            return
        _, object_lb = key_info(p)
        object_kind = "alb" if object_lb and object_lb.startswith(("app/", "net/")) else "classic"
        lines, lerr = lines_of(p, data)
        first = next((l for _, l in lines if l.strip()), None)
        if first is not None and not looks_like_lb(first):
            yield ("error", "%s: not an ELB/ALB log (it starts %r): skipped" % (p, first[:60].decode("utf-8", "replace")))
            return
        if lerr:
            yield ("error", "%s: read error after line %d: %s (the lines before it are used)" % (p, len(lines), lerr))
        # One record per (object, group), its lines in one blob: the shuffle moves few, large
        # records rather than a record per line.
        groups = {}
        for n, l in lines:
            g = route(l, object_lb, object_kind)
            ns, ls = groups.setdefault(g, ([], []))
            ns.append(n)
            ls.append(l)
            if b" 504 " in l:
                f = l.split(b" ", 9)
                if len(f) > 8 and not f[0][:1].isdigit() and f[8] == b"504":
                    yield ("alb504", (i, n, l))
        for g, (ns, ls) in groups.items():
            yield (g, (i, ns, b"\n".join(ls)))

    routed = raw.flatMap(explode).persist()
    errors += routed.filter(lambda kv: kv[0] == "error").map(lambda kv: kv[1]).collect()
    batches = routed.filter(lambda kv: isinstance(kv[0], tuple))
    lines = batches.flatMap(lambda kv: [(kv[0], (kv[1][0], n, l)) for n, l in zip(kv[1][1], kv[1][2].split(b"\n"))])
    total_lines = batches.map(lambda kv: len(kv[1][1])).sum()
    stages = {"list_and_route": round(time.time() - t0, 3)}

    # The idle timeout, once, by tailgate, from every ALB 504 (their own lines say it).
    alb504 = sorted(routed.filter(lambda kv: kv[0] == "alb504").map(lambda kv: kv[1]).collect())
    idle_doc = run_tailgate(binary, [t for _, _, t in alb504], None)
    idle = idle_doc["summary"]["lb_idle_timeout_s"]

    # Stage 3: one tailgate per group.
    parts = a.partitions or max(1, sc.defaultParallelism)
    bc_names = sc.broadcast(names)
    value = idle["value"]
    results = batches.groupByKey(parts).flatMap(lambda kv: correlate_group(binary, value, bc_names.value, kv[0], list(kv[1]))).persist()
    partials = results.filter(lambda r: r[0] == "summary").map(lambda r: r[1]).collect()
    summary = merge(partials, idle, errors)
    stages["correlate"] = round(time.time() - t0 - sum(stages.values()), 3)
    summary["objects"] = {"read": len(chosen), "skipped_by_key": skipped}

    # Per-backend shards: an instance's agent syncs only its own share.
    if a.shards:
        def shard_row(kv):
            (kind, backend, lb), (o, n, t) = kv
            f = t.split(b" ", 4)
            name = lb if backend == "-" else (f[1] if kind == "classic" else f[2]).decode("utf-8", "replace")
            day = (f[0] if kind == "classic" else f[1])[:10].decode("utf-8", "replace")
            return Row(lb=name, backend=backend, dt=day, o=o, n=n, value=t.decode("utf-8", "replace"))

        shards = spark.createDataFrame(lines.map(shard_row))
        (shards.repartition("lb", "backend", "dt").sortWithinPartitions("o", "n").select("lb", "backend", "dt", "value")
         .write.mode("overwrite").option("compression", "gzip").partitionBy("lb", "backend", "dt").text(a.output.rstrip("/") + "/shards"))

    # With the instances' own logs: one correlation per instance, over the lines in its scope.
    if a.instance_logs:
        prefix = a.instance_logs
        ips = sorted(e for e in os.listdir(prefix) if os.path.isdir(os.path.join(prefix, e))) if os.path.isdir(prefix) else []
        bc_ips = sc.broadcast(set(ips))

        def scope(kv):
            (kind, backend, _), (o, n, t) = kv
            if backend == "-":
                return [(ip, (kind, o, n, t)) for ip in bc_ips.value]
            h = host_of(backend)
            return [(h, (kind, o, n, t))] if h in bc_ips.value else []

        per = lines.flatMap(scope).groupByKey(parts).flatMap(
            lambda kv: correlate_instance(binary, bc_names.value, prefix, kv[0], list(kv[1]))).persist()
        for ip, scoped in per.filter(lambda r: r[0] == "summary").map(lambda r: r[1]).collect():
            write_text(spark, "%s/instances/%s/summary.json" % (a.output.rstrip("/"), ip), json.dumps(instance_summary(summary, scoped, errors), indent=1))
        for ip in ips:
            mine = per.filter(lambda r, ip=ip: r[0] == "finding" and r[1][0] == ip).map(lambda r: json.dumps(r[1][1]))
            mine.saveAsTextFile("%s/instances/%s/findings" % (a.output.rstrip("/"), ip))

    # Stage 4: findings as Parquet (lb/dt) and NDJSON parts.
    findings = results.filter(lambda r: r[0] == "finding").map(lambda r: r[1])
    findings.map(json.dumps).saveAsTextFile(a.output.rstrip("/") + "/findings/ndjson")
    rows = findings.map(lambda f: Row(
        lb=f["elb"].get("lb", "-"), dt=f["elb"]["timestamp"][:10], file=f["elb"]["file"], line=f["elb"]["line"],
        timestamp=f["elb"]["timestamp"], backend=f["elb"]["backend"], elb_status=f["elb"]["elb_status"],
        backend_status=f["elb"]["backend_status"], request=f["elb"]["request"], source=f["source"], cause=f["cause"],
        explanation=f["explanation"], evidence_available=f["evidence_available"], evidence=json.dumps(f["evidence"]),
        schema=f["schema"]))
    if not findings.isEmpty():
        spark.createDataFrame(rows).write.mode("overwrite").partitionBy("lb", "dt").parquet(a.output.rstrip("/") + "/findings/parquet")
    elapsed = time.time() - t0
    stages["write"] = round(elapsed - sum(stages.values()), 3)
    summary["job"] = {"seconds": round(elapsed, 3), "stages": stages, "lines": total_lines, "cores": sc.defaultParallelism,
                      "lines_per_second_per_core": round(total_lines / elapsed / max(1, sc.defaultParallelism), 1)}
    failed = summary["elb_lines"] and summary["bad_lines"] > MAX_BAD_FRACTION * summary["elb_lines"]
    if failed:
        summary["failed"] = "%d of %d lines (more than %.0f %%) are not ELB/ALB lines: a format change? Nothing else was concluded." % (
            summary["bad_lines"], summary["elb_lines"], MAX_BAD_FRACTION * 100)
    write_text(spark, a.output.rstrip("/") + "/summary.json", json.dumps(summary, indent=1))
    # (said before Spark stops: spark-submit relays the driver's output and may exit before the
    # last of it is relayed)
    if failed:
        print("tailgate-fleet: " + summary["failed"], file=sys.stderr, flush=True)
    else:
        print("tailgate-fleet: %d lines, %d LB 5xx, %d objects (%d skipped by key), %.1f s, %.0f lines/s per core" % (
            total_lines, summary["lb_5xx"], len(chosen), skipped, elapsed, summary["job"]["lines_per_second_per_core"]), file=sys.stderr, flush=True)
    spark.stop()
    time.sleep(0.2)
    return 3 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
