"""A fleet's load-balancer logs laid out as AWS writes them to S3, for the fleet job's tests and
bench: several load balancers (Classic and ALB), two nodes each writing a file per 5 minutes,
ALB files gzipped, many backends (some behind two Classic load balancers), LB-generated 502
bursts, 503s without a backend, ALB 504s with their idle timeout, backend 5xx. Seeded.

    python3 fleet/gen_fleet_data.py DIR [--lines N] [--backends N] [--seed S] [--day 2026-11-25]

What the logs mean is not known here: the fleet's tests compare the Spark job with tailgate
itself on the same files.
"""

import argparse
import gzip
import os
import random
from datetime import datetime, timedelta, timezone

ACCT, REGION = "123456789012", "us-east-1"


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--lines", type=int, default=60000)
    ap.add_argument("--backends", type=int, default=24)
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--day", default="2026-11-25")
    ap.add_argument("--idle", type=int, default=45, help="the ALB's idle timeout (s)")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    start = datetime.fromisoformat(a.day + "T03:00:00").replace(tzinfo=timezone.utc)
    classic = ["shop-web", "shop-api"]
    alb = ["app/edge-alb/50dc6c495c0c9188"]
    lbs = classic + alb
    backends = ["10.0.%d.%d:80" % (1 + i // 100, 10 + i % 100) for i in range(a.backends)]
    # Classic backends: the first two thirds (some behind both Classic LBs); ALB: the rest.
    cut = a.backends * 2 // 3
    behind = {"shop-web": backends[: cut * 3 // 4], "shop-api": backends[cut // 4 : cut], alb[0]: backends[cut:]}
    bad_backend = {lb: rnd.choice(behind[lb]) for lb in lbs}
    files = {}  # (lb, node, 5-minute slot) -> lines
    t = start
    paths = ["/", "/cart", "/checkout", "/api/v1/orders?page=%d", "/products/%d", "/static/app.%d.js"]
    agents = ["curl/8.5.0", "Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0", "Go-http-client/1.1"]
    for i in range(a.lines):
        t += timedelta(microseconds=rnd.randint(1000, 40000))
        lb = rnd.choice(lbs)
        node = rnd.randint(0, 1)
        be = rnd.choice(behind[lb])
        p = rnd.choice(paths)
        if "%d" in p:
            p = p % rnd.randint(1, 500)
        ua = rnd.choice(agents)
        client = "198.51.%d.%d:%d" % (rnd.randint(0, 255), rnd.randint(1, 254), rnd.randint(1024, 65535))
        r = rnd.random()
        # a burst of LB 502s on one backend per LB, in the second quarter hour
        burst = 300 <= (t - start).total_seconds() < 360 and be == bad_backend[lb]
        if burst or r < 0.01:
            kind = "lb502"
        elif r < 0.015:
            kind = "lb503"
        elif r < 0.02:
            kind = "lb504"
        elif r < 0.035:
            kind = "be5xx"
        else:
            kind = "ok"
        method = "POST" if p == "/cart" else "GET"
        if lb in classic:
            host = "http://%s.example.com:80" % lb
            if kind == "lb502":
                line = '%s %s %s %s -1 -1 -1 502 - 0 0 "%s %s%s HTTP/1.1" "%s" - -' % (iso(t), lb, client, be, method, host, p, ua)
            elif kind == "lb503":
                line = '%s %s %s - -1 -1 -1 503 0 0 0 "%s %s%s HTTP/1.1" "%s" - -' % (iso(t), lb, client, method, host, p, ua)
            elif kind == "lb504":
                line = '%s %s %s %s -1 -1 -1 504 0 0 0 "%s %s%s HTTP/1.1" "%s" - -' % (iso(t), lb, client, be, method, host, p, ua)
            else:
                st = rnd.choice([500, 502, 503]) if kind == "be5xx" else 200
                line = '%s %s %s %s 0.000041 %.6f 0.000020 %d %d 0 %d "%s %s%s HTTP/1.1" "%s" - -' % (
                    iso(t), lb, client, be, rnd.random() / 10, st, st, rnd.randint(100, 9000), method, host, p, ua)
        else:
            host = "https://edge.example.com:443"
            created = t
            tail = '"Root=1-%08x-%024x" "edge.example.com" "-" 0 %s "forward" "-" "-" %s %s "-" "-" TID_%032x'
            tg = "arn:aws:elasticloadbalancing:%s:%s:targetgroup/edge/73e2d6bc24d8a067" % (REGION, ACCT)
            if kind == "lb503":
                kind = "lb502"
            if kind == "lb502":
                fields = (be, "-1 -1 -1 502 -", "0 0", be, "-")
            elif kind == "lb504":
                created = t - timedelta(seconds=a.idle, microseconds=rnd.randint(0, 400000))
                fields = (be, "-1 -1 -1 504 -", "125 0", be, "-")
            else:
                st = rnd.choice([500, 502, 503]) if kind == "be5xx" else 200
                fields = (be, "0.000 %.3f 0.000 %d %d" % (rnd.random() / 10, st, st), "34 %d" % rnd.randint(100, 9000), be, str(st))
            line = 'https %s %s %s %s %s %s "%s %s%s HTTP/1.1" "%s" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 %s ' % (
                iso(t), lb, client, fields[0], fields[1], fields[2], method, host, p, ua, tg)
            line += tail % (rnd.getrandbits(32), rnd.getrandbits(96), iso(created), fields[3], fields[4], rnd.getrandbits(128))
        slot = (t - start).total_seconds() // 300
        files.setdefault((lb, node, slot), []).append(line)
    for (lb, node, slot), lines in sorted(files.items()):
        ts = start + timedelta(seconds=300 * (slot + 1))
        day = ts.strftime("%Y/%m/%d")
        name_lb = lb.replace("/", ".")
        name = "%s_elasticloadbalancing_%s_%s_%s_10.0.200.%d_%08x.log" % (ACCT, REGION, name_lb, ts.strftime("%Y%m%dT%H%MZ"), 10 + node, rnd.getrandbits(32))
        d = os.path.join(a.dir, "AWSLogs", ACCT, "elasticloadbalancing", REGION, day)
        os.makedirs(d, exist_ok=True)
        body = ("\n".join(lines) + "\n").encode()
        if lb in alb:
            with gzip.open(os.path.join(d, name + ".gz"), "wb") as f:
                f.write(body)
        else:
            with open(os.path.join(d, name), "wb") as f:
                f.write(body)


if __name__ == "__main__":
    main()
