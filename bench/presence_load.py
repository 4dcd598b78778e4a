#!/usr/bin/env python3
"""presence_load.py - the load generator of bench/presence-vs-kamailio.sh.

Plays many presence watchers and one publisher against a SIP server over
UDP on loopback, with digest authentication (MD5, qop=auth), and measures:

  subscribe: how many SUBSCRIBEs got a 2xx (and their initial NOTIFY), at
             what rate, how many failed (no 2xx within --timeout s);
  fanout:    after one PUBLISH, the time until every subscription got a
             NOTIFY carrying the new state, and the server's CPU for it
             (read from /proc for the process tree of --pid);
  memory:    the server's PSS before and after the subscriptions
             (printed by the caller with procstat.sh; this script only
             pauses --settle seconds when asked).

Every loop is bounded in count and time. Standard library only.

  presence_load.py --server 127.0.0.1:5062 --domain 127.0.0.1 --pid PID \
      --watchers 100 --per-watcher 10 --rate 500 --presentity bob:bob-pw \
      --watcher-password-prefix pw-
"""

import argparse
import hashlib
import os
import random
import re
import select
import socket
import sys
import time


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


def tree_cpu_seconds(pid):
    """utime+stime of pid and all its descendants, in seconds."""
    hz = os.sysconf("SC_CLK_TCK")
    parent = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                parent[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
            except (OSError, IndexError, ValueError):
                pass
    keep = {pid}
    changed = True
    while changed:
        changed = False
        for p, (pp, _) in parent.items():
            if p not in keep and pp in keep:
                keep.add(p)
                changed = True
    return sum(parent[p][1] for p in keep if p in parent) / hz


def header(msg, name):
    m = re.search(r"^" + name + r"\s*:\s*(.*)$", msg, re.M | re.I)
    return m.group(1).strip() if m else None


def all_headers(msg, name):
    return [v.strip() for v in re.findall(r"^" + name + r"\s*:\s*(.*)$", msg, re.M | re.I)]


def challenge_params(value):
    return dict(re.findall(r'(\w+)="?([^",]*)"?', value))


class Dialog:
    __slots__ = ("call_id", "user", "password", "tag", "cseq", "state", "sent_at",
                 "notifies", "marked", "to_tag", "kind", "body", "etag", "attempts")

    def __init__(self, call_id, user, password, kind="SUBSCRIBE", body=""):
        self.call_id = call_id
        self.user = user
        self.password = password
        self.tag = "%08x" % random.getrandbits(32)
        self.cseq = 1
        self.state = "new"
        self.sent_at = 0.0
        self.notifies = 0
        self.marked = False
        self.to_tag = None
        self.kind = kind
        self.body = body
        self.etag = None
        self.attempts = 0


class Load:
    def __init__(self, args):
        self.args = args
        host, port = args.server.rsplit(":", 1)
        self.server = (host, int(port))
        self.domain = args.domain
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.local = self.sock.getsockname()
        self.dialogs = {}
        self.nonce_uses = {}
        self.marker = None
        self.presentity, self.presentity_pw = args.presentity.split(":", 1)

    def request(self, d, auth=None):
        target = f"sip:{self.presentity}@{self.domain}"
        lines = [
            f"{d.kind} {target} SIP/2.0",
            f"Via: SIP/2.0/UDP {self.local[0]}:{self.local[1]};rport;branch=z9hG4bK{random.getrandbits(48):x}",
            "Max-Forwards: 70",
            f"From: <sip:{d.user}@{self.domain}>;tag={d.tag}",
            f"To: <{target}>",
            f"Call-ID: {d.call_id}",
            f"CSeq: {d.cseq} {d.kind}",
            f"Contact: <sip:{d.user}@{self.local[0]}:{self.local[1]}>",
            "Event: presence",
            f"Expires: {self.args.expires}",
        ]
        if d.kind == "SUBSCRIBE":
            lines.append("Accept: application/pidf+xml")
        else:
            lines.append("Content-Type: application/pidf+xml")
        if auth:
            lines.append(auth)
        body = d.body.encode()
        lines.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        self.sock.sendto(data, self.server)
        d.sent_at = time.monotonic()

    def authorization(self, d, response_text, status):
        name = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
        values = all_headers(response_text, name)
        chosen = None
        for v in values:
            p = challenge_params(v)
            if p.get("algorithm", "MD5").upper() == "MD5":
                chosen = p
                break
        if chosen is None:
            return None
        realm, nonce = chosen.get("realm", ""), chosen.get("nonce", "")
        uri = f"sip:{self.presentity}@{self.domain}"
        ha1 = md5(f"{d.user}:{realm}:{d.password}")
        ha2 = md5(f"{d.kind}:{uri}")
        cnonce = "%08x" % random.getrandbits(32)
        # A server may hand one nonce to several dialogs: count its uses,
        # as a phone does, so that no nonce-count is sent twice.
        nc = self.nonce_uses.get(nonce, 0) + 1
        self.nonce_uses[nonce] = nc
        if "auth" in chosen.get("qop", ""):
            resp = md5(f"{ha1}:{nonce}:{nc:08x}:{cnonce}:auth:{ha2}")
            extra = f', qop=auth, nc={nc:08x}, cnonce="{cnonce}"'
        else:
            resp = md5(f"{ha1}:{nonce}:{ha2}")
            extra = ""
        if "opaque" in chosen:
            extra += f', opaque="{chosen["opaque"]}"'
        head = "Authorization" if status == 401 else "Proxy-Authorization"
        return (f'{head}: Digest username="{d.user}", realm="{realm}", nonce="{nonce}", '
                f'uri="{uri}", response="{resp}", algorithm=MD5{extra}')

    def answer_notify(self, text, source):
        vias = all_headers(text, "Via")
        lines = ["SIP/2.0 200 OK"] + [f"Via: {v}" for v in vias]
        for name in ("From", "To", "Call-ID", "CSeq"):
            value = header(text, name)
            if value is not None:
                lines.append(f"{name}: {value}")
        lines.append("Content-Length: 0")
        self.sock.sendto(("\r\n".join(lines) + "\r\n\r\n").encode(), source)
        call_id = header(text, "Call-ID")
        d = self.dialogs.get(call_id)
        if d is None:
            return
        d.notifies += 1
        if self.marker and self.marker in text and not d.marked:
            d.marked = True
            self.marked += 1

    def pump(self, until):
        """Reads and handles datagrams until `until` (monotonic) or no more."""
        timeout = max(0.0, until - time.monotonic())
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return
        for _ in range(256):
            try:
                data, source = self.sock.recvfrom(65535, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            text = data.decode(errors="replace")
            if text.startswith("SIP/2.0"):
                self.on_response(text)
            elif text.startswith("NOTIFY"):
                self.answer_notify(text, source)

    def on_response(self, text):
        m = re.match(r"SIP/2.0 (\d+)", text)
        call_id = header(text, "Call-ID")
        d = self.dialogs.get(call_id)
        if not m or d is None:
            return
        status = int(m.group(1))
        if status < 200:
            return
        # A second challenge is answered too (up to 3 in all): Kamailio's
        # SQLite credentials lookup fails now and then under concurrent
        # access ("failed to query database") and challenges again.
        if status in (401, 407) and d.state in ("new", "auth") and d.attempts < 3:
            d.attempts += 1
            auth = self.authorization(d, text, status)
            if auth is None:
                d.state = "failed"
                return
            d.cseq += 1
            d.state = "auth"
            self.request(d, auth)
        elif 200 <= status < 300 and d.state in ("new", "auth"):
            d.state = "ok"
            d.etag = header(text, "SIP-ETag")
        elif d.state in ("new", "auth"):
            d.state = "failed"
            print(f"  {d.kind} {call_id}: {status}", file=sys.stderr)

    def subscribe_all(self):
        a = self.args
        total = a.watchers * a.per_watcher
        start = time.monotonic()
        sent = 0
        deadline = start + a.max_seconds
        interval = 1.0 / a.rate
        while time.monotonic() < deadline:
            now = time.monotonic()
            due = min(total, int((now - start) / interval) + 1)
            while sent < due:
                w = sent // a.per_watcher
                user = f"{a.watcher_prefix}{w:04d}"
                d = Dialog(f"sub{sent}-{random.getrandbits(32):x}@bench", user,
                           f"{a.watcher_password_prefix}{user}")
                self.dialogs[d.call_id] = d
                self.request(d)
                sent += 1
            self.pump(now + min(interval, 0.01))
            pending = [d for d in self.dialogs.values()
                       if d.kind == "SUBSCRIBE" and d.state in ("new", "auth")]
            for d in pending:
                if time.monotonic() - d.sent_at > a.timeout:
                    d.state = "failed"
            if sent == total and not pending:
                break
        elapsed = time.monotonic() - start
        # let the initial NOTIFYs arrive
        settle = time.monotonic() + 2.0
        while time.monotonic() < settle:
            self.pump(settle)
        subs = [d for d in self.dialogs.values() if d.kind == "SUBSCRIBE"]
        ok = sum(1 for d in subs if d.state == "ok")
        notified = sum(1 for d in subs if d.state == "ok" and d.notifies > 0)
        failed = total - ok
        print(f"{a.name} subscribe: sent={total} ok={ok} failed={failed} "
              f"notified={notified} elapsed_s={elapsed:.2f} rate={ok / elapsed:.0f}/s")
        return ok

    def fanout(self, established):
        """`--rounds` PUBLISHes, each once every watcher has the last one's
        state: the time of each round's fan-out and the CPU of all rounds
        (the /proc tick is 10 ms: many NOTIFYs make it precise)."""
        a = self.args
        cpu0 = tree_cpu_seconds(a.pid) if a.pid else 0.0
        times = []
        notified = 0
        published = []
        for _ in range(a.rounds):
            self.marker = f"fanout-{random.getrandbits(32):x}"
            self.marked = 0
            for d in self.dialogs.values():
                d.marked = False
            body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                    '<presence xmlns="urn:ietf:params:xml:ns:pidf" '
                    f'entity="sip:{self.presentity}@{self.domain}">'
                    '<tuple id="bench"><status><basic>open</basic></status>'
                    f'<note>{self.marker}</note></tuple></presence>')
            d = Dialog(f"pub-{random.getrandbits(32):x}@bench", self.presentity,
                       self.presentity_pw, kind="PUBLISH", body=body)
            self.dialogs[d.call_id] = d
            t0 = time.monotonic()
            self.request(d)
            deadline = t0 + a.max_seconds
            while time.monotonic() < deadline and self.marked < established:
                self.pump(min(deadline, time.monotonic() + 0.05))
            times.append((time.monotonic() - t0) * 1000)
            notified += self.marked
            published.append(d.state)
            if self.marked < established:
                break
        # the last NOTIFYs' 200s are handled by the server: a short settle
        settle = time.monotonic() + 0.5
        while time.monotonic() < settle:
            self.pump(settle)
        cpu1 = tree_cpu_seconds(a.pid) if a.pid else 0.0
        cpu_ms = (cpu1 - cpu0) * 1000
        per = (cpu_ms * 1000 / notified) if notified else 0
        times.sort()
        print(f"{a.name} fanout: rounds={len(times)} publish={','.join(sorted(set(published)))} "
              f"watchers={established} notified={notified} "
              f"time_ms_median={times[len(times) // 2]:.1f} time_ms_max={times[-1]:.1f} "
              f"cpu_ms={cpu_ms:.0f} cpu_per_notify_us={per:.1f}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--name", default="server")
    p.add_argument("--server", required=True)
    p.add_argument("--domain", required=True)
    p.add_argument("--pid", type=int, default=0)
    p.add_argument("--presentity", required=True, help="user:password of the watched user")
    p.add_argument("--watchers", type=int, default=100)
    p.add_argument("--per-watcher", type=int, default=10)
    p.add_argument("--watcher-prefix", default="user")
    p.add_argument("--watcher-password-prefix", default="pw-")
    p.add_argument("--rate", type=float, default=500)
    p.add_argument("--expires", type=int, default=3600)
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--max-seconds", type=float, default=120.0)
    p.add_argument("--settle", type=float, default=0.0,
                   help="seconds to wait after subscribing (memory snapshot point)")
    p.add_argument("--ready-file", default="",
                   help="touched when subscribed; the fan-out waits until it is removed")
    p.add_argument("--no-fanout", action="store_true")
    p.add_argument("--rounds", type=int, default=10,
                   help="PUBLISHes, one after the other's fan-out")
    a = p.parse_args()
    random.seed()
    load = Load(a)
    ok = load.subscribe_all()
    if a.ready_file:
        open(a.ready_file, "w").close()
        limit = time.monotonic() + a.max_seconds
        while os.path.exists(a.ready_file) and time.monotonic() < limit:
            load.pump(time.monotonic() + 0.2)
    elif a.settle:
        limit = time.monotonic() + a.settle
        while time.monotonic() < limit:
            load.pump(limit)
    if not a.no_fanout and ok:
        load.fanout(ok)


if __name__ == "__main__":
    main()
