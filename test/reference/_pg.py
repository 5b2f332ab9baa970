"""Shared helpers of the reference checks: psql as a subprocess, TAP output.

The checks talk to the server through psql only (no driver to install),
with the connection taken from PGHOST, PGPORT, PGUSER and PGDATABASE as the
test runner sets them.  Unset, they default to the cluster that
test/setup.sh starts (see test/lib.sh), so a check can be rerun by hand.
"""

import json
import math
import os
import shutil
import subprocess
import sys

DEFAULTS = {
    "PGHOST": os.environ.get("CLV_TMPDIR")
    or os.path.join(os.environ.get("TMPDIR", "/tmp"), "clv-test"),
    "PGPORT": os.environ.get("CLV_PGPORT", "54329"),
    "PGUSER": "postgres",
    "PGDATABASE": "clv",
}


class SetupError(Exception):
    """The check cannot run at all (no psql, no server, no extension)."""


def _psql_path():
    found = shutil.which("psql")
    if found:
        return found
    for candidate in ("/usr/lib/postgresql/15/bin/psql", "/usr/bin/psql"):
        if os.access(candidate, os.X_OK):
            return candidate
    raise SetupError("psql not found on PATH")


def _env():
    env = dict(os.environ)
    for key, value in DEFAULTS.items():
        env.setdefault(key, value)
    env.setdefault("PGOPTIONS", "")
    # plain, stable text: no locale-dependent messages, shortest exact floats
    env["PGOPTIONS"] += " -c lc_messages=C -c extra_float_digits=1 -c client_min_messages=warning"
    return env


def run(script, *, tuples=False):
    """Run an SQL script through psql; return its standard output.

    With tuples=True the output is unaligned, tuples only, tab-separated,
    for parsing.  Any SQL error stops the script and raises RuntimeError
    carrying psql's message.
    """
    cmd = [_psql_path(), "-X", "-v", "ON_ERROR_STOP=1", "-q"]
    if tuples:
        cmd += ["-A", "-t", "-F", "\t"]
    cmd += ["-f", "-"]
    proc = subprocess.run(cmd, input=script, capture_output=True, text=True,
                          env=_env(), check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip() or "psql exited with status %d" % proc.returncode)
    return proc.stdout


def rows(sql):
    """The rows of one query, each a list of strings (None for NULL is not
    distinguished: queries here never return NULL)."""
    out = run(sql.rstrip().rstrip(";") + ";\n", tuples=True)
    return [line.split("\t") for line in out.splitlines() if line != ""]


def value(sql):
    """The single value of a one-row, one-column query, as a string."""
    result = rows(sql)
    if len(result) != 1 or len(result[0]) != 1:
        raise RuntimeError("expected one value from %r, got %r" % (sql, result))
    return result[0][0]


def jsonb(sql):
    """The single jsonb value of a query, parsed."""
    return json.loads(value(sql))


def copy_rows(values):
    """COPY text-format lines for rows of numbers, booleans and float lists."""
    def field(v):
        if isinstance(v, bool):
            return "t" if v else "f"
        if isinstance(v, (list, tuple)):
            return "{" + ",".join(repr(float(e)) for e in v) + "}"
        return repr(float(v)) if isinstance(v, float) else str(v)
    return "".join("\t".join(field(v) for v in row) + "\n" for row in values)


def load_table(table, columns, values):
    """(Re)create table with the column definitions and fill it through COPY."""
    run("DROP TABLE IF EXISTS %s;\nCREATE TABLE %s (%s);\nCOPY %s FROM STDIN;\n%s\\.\n"
        % (table, table, columns, table, copy_rows(values)))


def connect_or_exit(name):
    """Check that the server answers and the extension can be created;
    print the reason and exit with status 2 if not."""
    try:
        run("CREATE EXTENSION IF NOT EXISTS clv;\n")
        value("SELECT extversion FROM pg_extension WHERE extname = 'clv'")
    except (SetupError, RuntimeError, OSError) as exc:
        print("# %s: cannot run: %s" % (name, exc), file=sys.stderr)
        sys.exit(2)


def max_rel_diff(got, want, floor=0.0):
    """Largest |got - want| / max(|want|, floor) over paired values; inf when
    the lengths differ or a value is missing or not finite."""
    got = list(got)
    want = list(want)
    if len(got) != len(want):
        return math.inf
    worst = 0.0
    for g, w in zip(got, want):
        if g is None or w is None or not math.isfinite(g) or not math.isfinite(w):
            return math.inf
        scale = max(abs(w), floor)
        diff = abs(g - w)
        worst = max(worst, diff / scale if scale > 0 else (0.0 if diff == 0 else math.inf))
    return worst


class Tap:
    """Minimal TAP producer: one line per check, a plan at the end."""

    def __init__(self):
        self.count = 0
        self.failed = 0
        self.measured = []      # (description, max relative difference)

    def ok(self, passed, description, details=""):
        self.count += 1
        if passed:
            print("ok - %s" % description)
        else:
            self.failed += 1
            print("not ok - %s%s" % (description, " (%s)" % details if details else ""))
        sys.stdout.flush()
        return passed

    def close(self, got, want, tol, description, floor=0.0):
        """Compare sequences to a relative tolerance; report the max diff."""
        diff = max_rel_diff(got, want, floor)
        self.measured.append((description, diff))
        if diff <= tol:
            return self.ok(True, "%s (max rel diff %.3g, tolerance %g)" % (description, diff, tol))
        return self.ok(False, description, "max rel diff %.3g > tolerance %g; got %s; want %s"
                       % (diff, tol, _fmt(got), _fmt(want)))

    def error(self, description, exc):
        self.ok(False, description, "error: %s" % str(exc).replace("\n", " | "))

    def done(self):
        print("1..%d" % self.count)
        for description, diff in self.measured:
            print("# measured: %-70s %.3g" % (description, diff))
        sys.stdout.flush()


def _fmt(values):
    values = list(values)
    shown = ", ".join("%.17g" % v if isinstance(v, float) else str(v) for v in values[:12])
    return "[%s%s]" % (shown, ", ..." if len(values) > 12 else "")
