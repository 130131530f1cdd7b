#!/usr/bin/env python3
"""Writes the measured part of docs/performance.md from a bench/run.sh results file.

    bench/report.py RESULTS.jsonl DOC.md [OURS.log]

OURS.log (default: RESULTS with .ours.log for .jsonl, if it exists) is the server's JSON
log of the run: each rate's slowest send is looked up there by its clientMessageId, and
the server's stages (its `chat::slow_send` line) are printed beside the client's
timeline.

Replaces what stands between the `<!-- bench:begin -->` and `<!-- bench:end -->` lines
of DOC.md, leaving the hand-written rest alone. Every figure is the median over the A/B
rounds with its range; every ratio is taken between medians measured in the same run on
the same machine.
"""
import json
import os
import statistics
import sys
from collections import defaultdict


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip().startswith("{")]


STAGES = ("parse", "handoff", "queue", "statement", "commit", "wake", "announce")


def load_traces(path):
    """The server's `chat::slow_send` events by client_message_id (none without a log)."""
    traces = {}
    if not path or not os.path.exists(path):
        return traces
    with open(path, errors="replace") as f:
        for line in f:
            if "chat::slow_send" not in line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if not isinstance(event, dict):
                continue
            event = dict(event, **(event.get("fields") or {}))  # flattened or not
            if event.get("client_message_id"):
                traces[event["client_message_id"]] = event
    return traces


def server_stages(event):
    """One line of the server's stages of a send, from its slow-send event."""
    def ms(v):
        return f"{v:,.3f}" if isinstance(v, (int, float)) else "?"
    stages = ", ".join(f"{s} {ms(event.get(s + '_ms'))}" for s in STAGES)
    path = event.get("path", "?")
    how = f"a batch of {event.get('batch')}" if path == "batch" else path.replace("_", " ")
    return f"server: {ms(event.get('total_ms'))} ms from arrival to announcement, {how}: {stages} ms"


def pick(rows, contender, scenario, **match):
    out = []
    for r in rows:
        if r.get("contender") != contender or r.get("scenario") != scenario:
            continue
        if all(r.get(k) == v for k, v in match.items()):
            out.append(r)
    return out


def get(r, path):
    for p in path.split("."):
        if not isinstance(r, dict):
            return None
        r = r.get(p)
    return r


def stat(rows, path):
    vals = [get(r, path) for r in rows]
    vals = [v for v in vals if isinstance(v, (int, float))]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals)


def fmt(s, unit=""):
    if s is None:
        return "not measured"
    med, lo, hi = s
    if lo == hi:
        return f"{med:,.2f}{unit}"
    return f"{med:,.2f}{unit} ({lo:,.2f}-{hi:,.2f})"


def count(s):
    """A count's median (and range), without decimals."""
    if s is None:
        return "not measured"
    med, lo, hi = s
    return f"{med:,.0f}" if lo == hi else f"{med:,.0f} ({lo:,.0f}-{hi:,.0f})"


def ratio(a, b):
    if a is None or b is None or not b[0]:
        return None
    return a[0] / b[0]


def verdict(x, target, higher=True):
    """` ✅` when `x` meets the target, ` ❌ miss` when not, nothing when unmeasured."""
    if x is None or target is None:
        return ""
    return " ✅" if (x >= target if higher else x <= target) else " ❌ miss"


def check(x, target, higher=True):
    """The goal column's verdict for an absolute figure (a latency against its bound)."""
    return "n/a" if x is None else verdict(x, target, higher).strip()


def rfmt(x, target=None, higher=True):
    if x is None:
        return "n/a"
    return f"{x:.2f}{verdict(x, target, higher)}"

def batch_floor(rows, clients):
    """Sends/s of pgbench's 8-sends-per-statement script at `clients` clients."""
    out = []
    for r in pick(rows, "limit", "pgbench_send_batch8", clients=clients):
        if isinstance(r.get("tps"), (int, float)):
            out.append(dict(r, sends_per_s=r["tps"] * r.get("sends_per_tx", 8)))
    return stat(out, "sends_per_s")


def spread(rows, path):
    """`min / median / max` of one figure over rounds, and the values round by round."""
    vals = [get(r, path) for r in sorted(rows, key=lambda r: r.get("round", 0))]
    vals = [v for v in vals if isinstance(v, (int, float))]
    if not vals:
        return "not measured", ""
    s = f"{min(vals):,.2f} / {statistics.median(vals):,.2f} / {max(vals):,.2f}"
    return s, ", ".join(f"{v:,.2f}" for v in vals)


def typing_headline(rows, contender):
    """Per round, the most deliveries/s of a typing step whose p99 stayed under its bound;
    their median and range over rounds (0 for a round where no step did)."""
    best = defaultdict(float)
    for r in pick(rows, contender, "typing"):
        best[r.get("round")] = max(best[r.get("round")], r.get("deliveries_per_s", 0) if r.get("under_bound") else 0)
    return stat([{"v": v} for v in best.values()], "v")


def render_floor(rows, w):
    if not pick(rows, "limit", "pgbench_send_minimal"):
        return
    w("### S0: the send path against PostgreSQL's floor\n")
    w("Ours: `chat-bench send --workers N --no-ws` (REST sends into 1,000 support conversations, no sockets). "
      "The floor: pgbench of `bench/pgbench/send_minimal.sql` (the same effect in one prepared statement) at N "
      "clients, and of `send_batch8.sql` (8 sends per statement and one commit: at N/8 clients as many sends in "
      "flight as ours, at N clients the ceiling); beside pgbench of the server's own SQL for a lone send (`send.sql`: "
      "BEGIN, the one append statement, COMMIT). Same 1,000 conversations, same run.\n")
    w("| senders | ours sends/s | server's SQL tx/s | ours ÷ | one statement tx/s | ours ÷ (>= 2.0) | 8 per statement, N/8 clients, sends/s | ours ÷ (>= 0.5) | 8 per statement, N clients, sends/s | ours ÷ |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for c in (16, 32, 64):
        ours = stat(pick(rows, "ours", "s2b_saturation", workers=c), "achieved_per_s")
        own = stat(pick(rows, "limit", "pgbench_send", clients=c), "tps")
        one = stat(pick(rows, "limit", "pgbench_send_minimal", clients=c), "tps")
        b8, top = batch_floor(rows, c // 8), batch_floor(rows, c)
        w(f"| {c} | {fmt(ours)} | {fmt(own)} | {rfmt(ratio(ours, own))} | {fmt(one)} | {rfmt(ratio(ours, one), 2.0)} | "
          f"{fmt(b8)} | {rfmt(ratio(ours, b8), 0.5)} | {fmt(top)} | {rfmt(ratio(ours, top))} |")
    w("")


def render_s2_rounds(rows, w, commit_floor, traces):
    s2 = pick(rows, "ours", "s2_send")
    if not s2:
        return
    w("### S2: send-to-receive latency, round by round\n")
    w("Open loop, REST sends with the receivers and 8 admins online; p99 of each round as min / median / max "
      "over the rounds, then each round's figure. The floor: pgbench of the one-statement send at the same rate "
      "(open loop, `-R`, 32 connections as the server's pool), its p99 from each transaction's scheduled start.\n")
    w("| rate | rounds | send-to-receive p99 ms, min / median / max | per round | send (REST answer) p99 ms, min / median / max | floor p99 ms | median above the floor | goal |")
    w("|---|---|---|---|---|---|---|---|")
    for rate in (250.0, 500.0, 1000.0):
        g = pick(rows, "ours", "s2_send", rate=rate)
        if not g:
            continue
        rcv, per_round = spread(g, "send_to_receive.p99_ms")
        snd, _ = spread(g, "send_latency.p99_ms")
        fl = stat(pick(rows, "limit", "pgbench_send_minimal_rated", rate=int(rate)), "p99_ms")
        med = stat(g, "send_to_receive.p99_ms")
        above = "n/a" if med is None or fl is None else f"{med[0] - fl[0]:,.2f} ms ({med[0] / fl[0]:.1f}x)" if fl[0] else "n/a"
        goal = "<= 10 ms" if rate == 500.0 else ""
        w(f"| {rate:,.0f}/s | {len(g)} | {rcv} | {per_round} | {snd} | {fmt(fl)} | {above} | {goal} |")
    w(f"\nThe commit floor (`pg_test_fsync`, one fdatasync) is {fmt(commit_floor, ' ms')}. The slowest send of "
      "each rate, as a timeline from its intended send time (issued by the load generator, answered by the server "
      "after its commit, received by the last recipient; its `clientMessageId` names it in the database and in the server's "
      "slow-send trace, whose stages follow it: docs/operations.md, \"Logs\"):\n")
    threshold = stat(pick(rows, "ours", "server_settings"), "slow_send_ms")
    for rate in (250.0, 500.0, 1000.0):
        slow = [dict(t, round=r.get("round")) for r in pick(rows, "ours", "s2_send", rate=rate) for t in r.get("slowest_sends") or []]
        if not slow:
            continue
        t = max(slow, key=lambda t: t.get("last_received_ms") or t.get("answered_ms") or 0)
        w(f"- {rate:,.0f}/s, round {t['round']}: issued +{t.get('issued_ms')} ms, answered +{t.get('answered_ms')} ms, "
          f"last receipt +{t.get('last_received_ms')} ms (conversation {t.get('conversation_id')}, `{t.get('client_message_id')}`)")
        event = traces.get(t.get("client_message_id"))
        if event:
            w(f"  - {server_stages(event)}")
        elif threshold:
            w(f"  - server: no slow-send line for it (under its threshold of {threshold[0]:,.0f} ms, or the log is missing)")
        else:
            w("  - server: no slow-send trace for it (the server's log was not kept)")
    w("")


def render_group_commit(rows, w):
    if not pick(rows, "ours", "s2_send_alone"):
        return
    w("### With and without group commit\n")
    w("The same sends on a server restarted with `CHAT_GROUP_COMMIT=off` (each send commits alone, on the "
      "requests' pool), in the same rounds: sends/s at saturation (closed loop, no sockets) and send-to-receive "
      "p99 at S2's rates (open loop, receivers and 8 admins online).\n")
    w("| load | with group commit | each send alone | with ÷ alone |")
    w("|---|---|---|---|")
    cases = [(f"{c} senders, sends/s", "s2b_saturation", {"workers": c}, "achieved_per_s") for c in (16, 32, 64)]
    cases += [(f"{rate:,.0f}/s, send-to-receive p99 ms", "s2_send", {"rate": rate}, "send_to_receive.p99_ms")
              for rate in (250.0, 500.0, 1000.0)]
    for label, scenario, match, path in cases:
        on = stat(pick(rows, "ours", scenario, **match), path)
        off = stat(pick(rows, "ours", f"{scenario}_alone", **match), path)
        w(f"| {label} | {fmt(on)} | {fmt(off)} | {rfmt(ratio(on, off))} |")
    w("")


def answered(rows):
    """Rows where at least one request succeeded: a latency of nothing is not 0 ms."""
    return [r for r in rows if get(r, "latency.count")]


def render_reads_under_writes(rows, w):
    if not pick(rows, "ours", "s3_read_under_s2"):
        return
    w("### Reads under write load\n")
    beside = stat(pick(rows, "ours", "s2_beside_reads"), "achieved_per_s")
    w("History page (S3), chat list (S4) and support queue (S5) at 200/s each, at the same time, open loop, "
      f"while REST sends run at 1,000/s without sockets (achieved beside them: {fmt(beside, '/s')}). "
      "Latencies over the requests that succeeded; failed ones (503 refusals, timeouts) are counted apart.\n")
    w("| read | achieved/s | failed per round | p50 ms | p99 ms | p99.9 ms | goal |")
    w("|---|---|---|---|---|---|---|")
    for name, label in (("s3", "S3 history page"), ("s4", "S4 chat list"), ("s5", "S5 support queue")):
        g = pick(rows, "ours", f"{name}_read_under_s2")
        ok = answered(g)
        failed = stat([{"n": sum((r.get("errors") or {}).values()) + r.get("shed", 0) + r.get("aborted", 0)} for r in g], "n")
        p99 = stat(ok, "latency.p99_ms")
        w(f"| {label} | {fmt(stat(g, 'achieved_per_s'))} | {count(failed)} | {fmt(stat(ok, 'latency.p50_ms'))} | "
          f"{fmt(p99)} | {fmt(stat(ok, 'latency.p999_ms'))} | p99 <= 10 ms {check(p99 and p99[0], 10, higher=False)} |")
    w("")


def render_fanout(rows, w):
    contenders = ("ours", "relay", "peer")
    if not any(pick(rows, c, "s6_notices") for c in ("relay", "peer")) and not any(pick(rows, c, "typing") for c in contenders):
        return
    w("### Fan-out where the database does not decide\n")
    w("A notice to K online users, each contender pushing the same `admin-notification` payload to the same "
      "users: ours after storing it (`POST /api/admin/chat/notifications`), the Socket.IO peer at once with "
      "`io.to(rooms).emit`, the bare relay as one frame naming the users' rooms. Deliveries/s count from the "
      "first delivery to the last socket (the part after the database); three notices per audience per round.\n")
    w("| audience | ours deliveries/s | bare relay | Socket.IO peer | ÷ relay (>= 0.6) | ÷ peer (>= 5) | ours first / last delivery ms | relay last ms | peer last ms |")
    w("|---|---|---|---|---|---|---|---|---|")
    sizes = sorted({n.get("audience") for c in contenders for r in pick(rows, c, "s6_notices") for n in r.get("notices", [])})
    for k in (k for k in sizes if k and k >= 1000):
        o, r, p = (stat(notices(rows, k, c), "fanout_per_s") for c in contenders)
        ol = notices(rows, k)
        w(f"| {k:,} | {fmt(o)} | {fmt(r)} | {fmt(p)} | {rfmt(ratio(o, r), 0.6)} | {rfmt(ratio(o, p), 5)} | "
          f"{fmt(stat(ol, 'first_delivery_ms'))} / {fmt(stat(ol, 'last_delivery_ms'))} | "
          f"{fmt(stat(notices(rows, k, 'relay'), 'last_delivery_ms'))} | {fmt(stat(notices(rows, k, 'peer'), 'last_delivery_ms'))} |")
    typing = {c: pick(rows, c, "typing") for c in contenders}
    if any(typing.values()):
        pairs = next((r.get("pairs") for g in typing.values() for r in g), 0)
        w(f"\nTyping between {pairs:,} pairs (a seeded DM each, both sides online; every event goes to both sides, "
          "as ours sends it), stepped open-loop rates; the headline is the most deliveries/s of a step whose p99 "
          "stayed under 20 ms (per round, then the median).\n")
        w("| contender | deliveries/s at p99 < 20 ms | steps: events/s -> p99 ms (dropped) |")
        w("|---|---|---|")
        for c in contenders:
            steps = defaultdict(list)
            for r in typing[c]:
                steps[r.get("rate")].append(r)
            desc = "; ".join(f"{rate:,.0f} -> {fmt(stat(g, 'latency.p99_ms'))} ({count(stat(g, 'dropped'))})"
                             for rate, g in sorted(steps.items()))
            w(f"| {c} | {fmt(typing_headline(rows, c))} | {desc or 'not measured'} |")
        o, r, p = (typing_headline(rows, c) for c in contenders)
        w(f"\nOurs ÷ relay: {rfmt(ratio(o, r), 0.6)}; ours ÷ peer: {rfmt(ratio(o, p), 5)}.")
    w("")


BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def notices(rows, audience, contender="ours"):
    """S6 rows flattened to one audience size (every repeat of every round)."""
    out = []
    for r in pick(rows, contender, "s6_notices"):
        for n in r.get("notices", []):
            if n.get("audience") == audience:
                out.append(dict(n, gate_ok=r.get("gate_ok")))
    return out


def render(rows, source, traces):
    L = []
    w = L.append
    w(f"Generated by `bench/run.sh` from `{source}` ({len(rows)} measurements). "
      "Figures are medians over the A/B rounds, with the range in parentheses; every ratio "
      "compares medians taken in the same run on the same machine (2 cores shared by the "
      "server, PostgreSQL and the load generator). How to read and reproduce: see the end.\n")

    floor = stat(pick(rows, "limit", "commit_floor"), "floor_ms")
    w("### Calibration (the limits)\n")
    w(f"- Commit floor (`pg_test_fsync`, one fdatasync): {fmt(floor, ' ms')}")
    for c in (16, 32, 64):
        s = pick(rows, "limit", "pgbench_send", clients=c)
        w(f"- pgbench, the server's send transaction at {c} clients: {fmt(stat(s, 'tps'), ' tx/s')}, "
          f"p99 {fmt(stat(s, 'p99_ms'), ' ms')}")
    for c in (16, 32, 64):
        s = pick(rows, "limit", "pgbench_send_minimal", clients=c)
        w(f"- pgbench, the send in one prepared statement at {c} clients: {fmt(stat(s, 'tps'), ' tx/s')}, "
          f"p99 {fmt(stat(s, 'p99_ms'), ' ms')}; 8 sends per statement at {c // 8} clients: "
          f"{fmt(batch_floor(rows, c // 8), ' sends/s')}, at {c} clients: {fmt(batch_floor(rows, c), ' sends/s')}")
    for rate in (250, 500, 1000):
        s = pick(rows, "limit", "pgbench_send_minimal_rated", rate=rate)
        w(f"- pgbench, the one-statement send at {rate:,}/s (open loop, 32 connections): p50 {fmt(stat(s, 'p50_ms'), ' ms')}, "
          f"p99 {fmt(stat(s, 'p99_ms'), ' ms')}")
    for name in ("s3", "s4", "s5"):
        s = pick(rows, "limit", f"pgbench_{name}")
        w(f"- pgbench, {name.upper()} SQL at 16 clients: {fmt(stat(s, 'tps'), ' tx/s')}, p99 {fmt(stat(s, 'p99_ms'), ' ms')}")
        s = pick(rows, "limit", f"pgbench_{name}_minimal")
        w(f"- pgbench, {name.upper()}'s rows in one prepared statement at 16 clients: {fmt(stat(s, 'tps'), ' tx/s')}, "
          f"p99 {fmt(stat(s, 'p99_ms'), ' ms')}")
    relay_idle = pick(rows, "relay", "s1_idle")
    w(f"- Bare relay: {fmt(stat(relay_idle, 'rss_per_conn_kib'), ' KiB')} RSS per idle socket "
      f"({count(stat(relay_idle, 'sockets'))} sockets)")
    w("")

    w("### Ratios\n")
    w("| target | ours | reference | ratio | goal |")
    w("|---|---|---|---|---|")
    for c in (16, 32, 64):
        ours = stat(pick(rows, "ours", "s2b_saturation", workers=c), "achieved_per_s")
        lim = stat(pick(rows, "limit", "pgbench_send", clients=c), "tps")
        w(f"| send throughput, {c} senders ÷ pgbench same SQL, {c} clients | {fmt(ours, '/s')} | {fmt(lim, '/s')} | {rfmt(ratio(ours, lim), 0.85)} | >= 0.85 |")
    for c in (16, 32, 64):
        ours = stat(pick(rows, "ours", "s2b_saturation", workers=c), "achieved_per_s")
        lim = stat(pick(rows, "limit", "pgbench_send_minimal", clients=c), "tps")
        w(f"| send throughput, {c} senders ÷ one-statement send (pgbench, prepared, {c} clients) | {fmt(ours, '/s')} | {fmt(lim, '/s')} | {rfmt(ratio(ours, lim), 2.0)} | >= 2.0 |")
        lim = batch_floor(rows, c // 8)
        w(f"| send throughput, {c} senders ÷ 8 sends per statement (pgbench, prepared, {c // 8} clients: {c} sends in flight) | {fmt(ours, '/s')} | {fmt(lim, '/s')} | {rfmt(ratio(ours, lim), 0.5)} | >= 0.5 |")
    for c in (16, 32, 64):
        ours = stat(pick(rows, "ours", "s2b_saturation", workers=c), "achieved_per_s")
        peer = stat(pick(rows, "peer", "s2b_saturation", workers=c), "achieved_per_s")
        w(f"| send throughput, {c} senders ÷ Socket.IO peer | {fmt(ours, '/s')} | {fmt(peer, '/s')} | {rfmt(ratio(ours, peer), 5)} | >= 5x |")
    for rate in (250.0, 500.0, 1000.0):
        ours_rows = pick(rows, "ours", "s2_send", rate=rate)
        o = stat(ours_rows, "send_latency.p99_ms")
        p = stat(pick(rows, "peer", "s2_send", rate=rate), "send_latency.p99_ms")
        w(f"| send p99 at {rate:,.0f}/s ÷ peer (ours REST, peer socket+ack) | {fmt(o, ' ms')} | {fmt(p, ' ms')} | {rfmt(ratio(o, p), 0.25, higher=False)} | <= 0.25x |")
        o = stat(ours_rows, "send_to_receive.p99_ms")
        diff = None if o is None or floor is None or not get(ours_rows[0], "send_to_receive.count") else o[0] - floor[0]
        w(f"| send-to-receive p99 at {rate:,.0f}/s minus commit floor | {fmt(o, ' ms')} | {fmt(floor, ' ms')} | {'n/a' if diff is None else f'{diff:.2f} ms'} | <= 5 ms |")
        if rate == 500.0:
            w(f"| send-to-receive p99 at 500/s | {fmt(o, ' ms')} | | {check(o and o[0], 10, higher=False)} | <= 10 ms |")
    oi = stat(pick(rows, "ours", "s1_idle"), "rss_per_conn_kib")
    ri = stat(relay_idle, "rss_per_conn_kib")
    pi = stat(pick(rows, "peer", "s1_idle"), "rss_per_conn_kib")
    w(f"| RSS per idle socket ÷ bare relay | {fmt(oi, ' KiB')} | {fmt(ri, ' KiB')} | {rfmt(ratio(oi, ri), 1.2, higher=False)} | <= 1.2 |")
    w(f"| RSS per idle socket ÷ peer | {fmt(oi, ' KiB')} | {fmt(pi, ' KiB')} | {rfmt(ratio(oi, pi), 1.0, higher=False)} | <= 1x |")
    for name, label in (("s3", "S3 history paging"), ("s4", "S4 chat list (1,000 DMs)"), ("s5", "S5 support queue (100k)")):
        o = stat(pick(rows, "ours", f"{name}_read", workers=16), "achieved_per_s")
        lim = stat(pick(rows, "limit", f"pgbench_{name}"), "tps")
        w(f"| {label}, 16 workers ÷ pgbench same SQL | {fmt(o, '/s')} | {fmt(lim, '/s')} | {rfmt(ratio(o, lim), 0.7)} | >= 0.7 |")
        floor_ = stat(pick(rows, "limit", f"pgbench_{name}_minimal"), "tps")
        w(f"| {label}, 16 workers ÷ pgbench of the one statement returning the same rows | {fmt(o, '/s')} | {fmt(floor_, '/s')} | {rfmt(ratio(o, floor_))} | |")
    for name, label in (("s3", "S3"), ("s4", "S4"), ("s5", "S5")):
        o = stat(pick(rows, "ours", f"{name}_read", workers=16), "latency.p99_ms")
        w(f"| {label} p99 at 16 workers (closed loop) | {fmt(o, ' ms')} | | | < 5 ms |")
    for name in ("s3", "s4", "s5"):
        o = stat(answered(pick(rows, "ours", f"{name}_read_under_s2")), "latency.p99_ms")
        w(f"| {name.upper()} p99 at 200/s each while S2 sends 1,000/s (open loop) | {fmt(o, ' ms')} | | {check(o and o[0], 10, higher=False)} | <= 10 ms |")
    for k in (1000, 10000):
        o, r, p = (stat(notices(rows, k, who), "fanout_per_s") for who in ("ours", "relay", "peer"))
        w(f"| fan-out to {k:,} online users, deliveries/s ÷ bare relay | {fmt(o, '/s')} | {fmt(r, '/s')} | {rfmt(ratio(o, r), 0.6)} | >= 0.6 |")
        w(f"| fan-out to {k:,} online users, deliveries/s ÷ Socket.IO peer | {fmt(o, '/s')} | {fmt(p, '/s')} | {rfmt(ratio(o, p), 5)} | >= 5x |")
    o, r, p = (typing_headline(rows, who) for who in ("ours", "relay", "peer"))
    w(f"| typing relay, deliveries/s at p99 under 20 ms ÷ bare relay | {fmt(o, '/s')} | {fmt(r, '/s')} | {rfmt(ratio(o, r), 0.6)} | >= 0.6 |")
    w(f"| typing relay, deliveries/s at p99 under 20 ms ÷ Socket.IO peer | {fmt(o, '/s')} | {fmt(p, '/s')} | {rfmt(ratio(o, p), 5)} | >= 5x |")
    sockets = stat(pick(rows, "ours", "s6_notices"), "sockets")
    if sockets:
        o = stat(notices(rows, int(sockets[0])), "last_delivery_ms")
        w(f"| S6 last delivery of a notice to all {int(sockets[0]):,} online users | {fmt(o, ' ms')} | | | < 1,000 ms |")
    else:
        w("| S6 last delivery of a notice to all online users | not measured | | | < 1,000 ms |")
    w("")

    render_floor(rows, w)
    render_s2_rounds(rows, w, floor, traces)
    render_group_commit(rows, w)
    render_reads_under_writes(rows, w)
    render_fanout(rows, w)

    s6 = pick(rows, "ours", "s6_notices")
    if s6:
        w("### S6: one notice, N users online\n")
        w(f"{count(stat(s6, 'sockets'))} users online; an admin sends one notice (`userIds`) to the first 1, 1,000 "
          "and all of them. Times from the request; gates: every online recipient got it exactly once, no socket "
          "outside the audience got it.\n")
        w("| audience | answered (committed) ms | first delivery ms | last delivery ms | gates passed |")
        w("|---|---|---|---|---|")
        sizes = sorted({n.get("audience") for r in s6 for n in r.get("notices", [])})
        for k in sizes:
            g = notices(rows, k)
            passed = sum(1 for n in g if n.get("gate_ok"))
            w(f"| {k:,} | {fmt(stat(g, 'answered_ms'))} | {fmt(stat(g, 'first_delivery_ms'))} | "
              f"{fmt(stat(g, 'last_delivery_ms'))} | {passed}/{len(g)} |")
        w("")

    s7 = pick(rows, "ours", "s7_reconnect_storm")
    if s7:
        w("### S7: reconnect storm\n")
        w(f"{count(stat(s7, 'clients'))} clients drop their sockets, then reconnect over {count(stat(s7, 'window_s'))} s, "
          "each sending `resume` with its last seen position.\n")
        w("| resumed | resync-required | replayed messages | connect + resume p50 / p99 / max ms | wall time s | gates passed |")
        w("|---|---|---|---|---|---|")
        lat = " / ".join(fmt(stat(s7, f"reconnect_resume_latency.{q}")) for q in ("p50_ms", "p99_ms", "max_ms"))
        passed = sum(1 for r in s7 if r.get("gate_ok"))
        w(f"| {count(stat(s7, 'resumed'))} | {count(stat(s7, 'resync_required'))} | {count(stat(s7, 'replayed'))} | {lat} | "
          f"{fmt(stat(s7, 'elapsed_s'))} | {passed}/{len(s7)} |")
        w("")

    w("### Every scenario (medians and ranges)\n")
    groups = defaultdict(list)
    for r in rows:
        if r.get("contender") == "limit" or r.get("scenario") in ("s6_notices", "s7_reconnect_storm", "typing", "server_settings"):
            continue
        key = (r.get("scenario"), r.get("contender"), r.get("rate"), r.get("workers"), r.get("admins"), r.get("sockets") if r.get("scenario") == "s1_idle" else None)
        groups[key].append(r)
    w("| scenario | contender | params | achieved/s | latency p50 / p99 / p99.9 ms | send-to-receive p99 ms | RSS/socket KiB | gates passed |")
    w("|---|---|---|---|---|---|---|---|")
    for key in sorted(groups, key=lambda k: tuple(str(x) for x in k)):
        g = groups[key]
        scen, who, rate, workers, admins, sockets = key
        params = ", ".join(x for x in (f"rate {rate}" if rate else "", f"{workers} workers" if workers else "",
                                        f"{admins} admins" if admins else "", f"{sockets} sockets" if sockets else "") if x)
        lat_path = "send_latency" if "send" in scen or "saturation" in scen else "latency"
        if scen == "s1_idle":
            lat_path = "connect_latency"
        lat = " / ".join(fmt(stat(g, f"{lat_path}.{q}")) for q in ("p50_ms", "p99_ms", "p999_ms"))
        ach = stat(g, "achieved_per_s") or stat(g, "connect_rate_per_s")
        rcv = stat(g, "send_to_receive.p99_ms") if get(g[0], "send_to_receive.count") else None
        rss = stat(g, "rss_per_conn_kib")
        passed = sum(1 for r in g if r.get("gate_ok"))
        w(f"| {scen} | {who} | {params} | {fmt(ach)} | {lat} | {fmt(rcv) if rcv else '-'} | {fmt(rss) if rss else '-'} | {passed}/{len(g)} |")
    return "\n".join(L)


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: bench/report.py RESULTS.jsonl DOC.md [OURS.log]")
    source, doc = sys.argv[1], sys.argv[2]
    log = sys.argv[3] if len(sys.argv) == 4 else source.removesuffix(".jsonl") + ".ours.log"
    text = open(doc).read()
    head, sep, rest = text.partition(BEGIN + "\n")
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        sys.exit(f"{doc} has no {BEGIN} ... {END} section to replace")
    with open(doc, "w") as f:
        f.write(head + BEGIN + "\n" + render(load(source), source, load_traces(log)) + "\n" + END + tail)


if __name__ == "__main__":
    main()
