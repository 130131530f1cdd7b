#!/usr/bin/env python3
"""Turns PostgreSQL statement logs of one request each into the pgbench scripts of
bench/pgbench (see README.md): the statements of each request, with the logged binds
inlined and the varying ones made pgbench variables; plus each read's floor, its one
statement alone. Run by bench/capture_sql.sh.

    capture.py LOG_DIR OUT_DIR    # LOG_DIR holds newest.log deep.log list.log queue.log send.log
"""
import re
import sys

HEADER = (
    "-- The SQL chat-server runs for this request, captured from PostgreSQL's statement log\n"
    "-- by bench/capture_sql.sh, with the binds as pgbench variables. Without the\n"
    "-- user-existence check (cached for 60 s per user, so not part of a steady request).\n"
)
FLOOR = (
    "-- The least PostgreSQL work that returns the same rows as the server's request: the\n"
    "-- one statement that returns them (no access check, no transaction), run prepared.\n"
)
ENTRY = re.compile(r"^\d{4}-\d\d-\d\d [\d:.]+ \w+ \[\d+\] (LOG|DETAIL):  (.*)$")


def entries(path):
    """(kind, text) of each log entry, continuation lines joined."""
    current = None
    for line in open(path, encoding="utf-8"):
        m = ENTRY.match(line.rstrip("\n"))
        if m:
            if current:
                yield current
            current = [m.group(1), m.group(2)]
        elif current:
            current[1] += "\n" + line.rstrip("\n")
    if current:
        yield current


def statements(path):
    """The statements of a log, binds inlined, whitespace collapsed."""
    out = []
    for kind, text in entries(path):
        if kind == "LOG":
            m = re.match(r"(?:statement|execute [^:]+): (.*)$", text, re.S)
            if m:
                out.append([m.group(1), None])
        elif kind == "DETAIL" and text.startswith("parameters:") and out:
            out[-1][1] = dict(re.findall(r"\$(\d+) = ('(?:[^']|'')*'|NULL)", text))
    result = []
    for sql, params in out:
        if params:
            sql = re.sub(r"\$(\d+)", lambda m: params[m.group(1)], sql)
        result.append(" ".join(sql.split()))
    return result


def request_statements(path):
    """What the server ran for the request: the log slice without connection set-up
    (`SET ...`) and without the user-existence check (its own transaction, cached)."""
    st = [s for s in statements(path) if not s.startswith("SET ")]
    for i in range(1, len(st) - 1):
        if st[i].startswith('SELECT EXISTS (SELECT "users"') and st[i - 1] == "BEGIN" and st[i + 1] == "COMMIT":
            return st[: i - 1] + st[i + 2 :]
    return st


def main_statement(stmts):
    """The statement that returns the request's rows: its last one but a COMMIT."""
    return [s for s in stmts if s != "COMMIT"][-1]


def replace(stmts, old, new, expected):
    out = [s.replace(old, new) for s in stmts]
    found = sum(s.count(new) for s in out) - sum(s.count(new) for s in stmts)
    if found != expected:
        sys.exit(f"capture: expected {expected} occurrences of {old!r}, found {found}")
    return out


def main(logs, out):
    def write(name, title, pre, stmts):
        with open(f"{out}/{name}", "w", encoding="utf-8") as f:
            f.write(f"-- {title}\n{HEADER}{pre}" + "".join(s + ";\n" for s in stmts))

    def floor(name, title, pre, stmt):
        with open(f"{out}/{name}", "w", encoding="utf-8") as f:
            f.write(f"-- {title}\n{FLOOR}{pre}{stmt};\n")

    deep_vars = "\\set r random(0, 999999)\n\\set before 2 * :r + 1\n"
    newest = request_statements(f"{logs}/newest.log")
    deep = request_statements(f"{logs}/deep.log")
    deep = replace(deep, "\"dm_messages\".\"id\" = '1001'", '"dm_messages"."id" = :before', 1)
    deep = replace(deep, "c.id = '1001'", "c.id = :before", 1)
    lists = request_statements(f"{logs}/list.log")
    queue = request_statements(f"{logs}/queue.log")
    send = request_statements(f"{logs}/send.log")
    send = replace(send, "'{1001}'::int[]", "ARRAY[:uid]::int[]", 3)
    send = replace(send, "'{capture}'::text[]", "'{pgbench message to support}'::text[]", 1)
    send = replace(send, "'{NULL}'::uuid[]", "ARRAY[gen_random_uuid()]::uuid[]", 1)
    write("page_newest.sql", "S3 history, newest page of the big DM (dm_history without a cursor).", "", newest)
    write("page_deep.sql", "S3 history, a page before a pseudo-random message of the big DM (its ids are the odd numbers).", deep_vars, deep)
    write("list.sql", "S4 the DM list (with unread counts) of the user with 1,000 conversations.", "", lists)
    write("queue.sql", "S5 the admin support queue, open conversations, longest waiting first.", "", queue)
    write("send.sql", "S2 send: a user's message to their support conversation, sent alone: BEGIN, the one\n-- append statement (APPEND_SQL in crates/postgres/src/conversations.rs), COMMIT.", "\\set uid random(1001, 1000 + :nconv)\n", send)
    floor("page_newest_minimal.sql", "S3 floor: the newest page of the big DM.", "", main_statement(newest))
    floor("page_deep_minimal.sql", "S3 floor: a page before a pseudo-random message of the big DM.", deep_vars, main_statement(deep))
    floor("list_minimal.sql", "S4 floor: the DM list of the user with 1,000 conversations.", "", main_statement(lists))
    floor("queue_minimal.sql", "S5 floor: the support queue, open, longest waiting first.", "", main_statement(queue))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
