#!/usr/bin/env python3
"""The data drawn in the figures of doc/figures.md are what the queries return.

doc/figures/load.sql loads the CDNOW sample into a new database, from the
repository root; each doc/figures/NAME.sql then runs in a psql session of its
own (unaligned, tuples only, fields separated by a space) and must print
doc/figures/NAME.dat: the same lines with the same fields, numbers equal to a
relative tolerance of 1e-9 (or within 1e-12, for numbers near zero), any
other field the same text.  One TAP line per figure, one for the load, and one
for doc/figures.md showing every figure with the text of its query.  Needs no
gnuplot: the images are drawn from the .dat files by doc/figures/make.sh,
which calls this script with --write to write the .dat files instead.
"""

import glob
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import _pg  # noqa: E402  (the shared psql and TAP helpers)

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FIGURES = "doc/figures"
DATABASE = "clv_figures"
REL_TOL, ABS_TOL = 1e-9, 1e-12


def psql(script):
    """Run a psql script of doc/figures in the figures' database; its output."""
    proc = subprocess.run([_pg._psql_path(), "-X", "-q", "-A", "-t", "-F", " ",
                           "-v", "ON_ERROR_STOP=1", "-f", script],
                          capture_output=True, text=True, cwd=ROOT,
                          env=dict(_pg._env(), PGDATABASE=DATABASE))
    if proc.returncode != 0:
        raise RuntimeError("%s: %s" % (script, proc.stderr.strip()
                                       or "psql exited with status %d" % proc.returncode))
    return proc.stdout


def number(field):
    try:
        return float(field)
    except ValueError:
        return None


def first_difference(got, want):
    """None when the outputs agree, else where and how they first differ."""
    got_lines, want_lines = got.rstrip("\n").split("\n"), want.rstrip("\n").split("\n")
    if len(got_lines) != len(want_lines):
        return "%d lines, the file has %d" % (len(got_lines), len(want_lines))
    for n, (g, w) in enumerate(zip(got_lines, want_lines), 1):
        gf, wf = g.split(), w.split()
        same = len(gf) == len(wf) and all(
            a == b or (number(a) is not None and number(b) is not None
                       and math.isclose(number(a), number(b), rel_tol=REL_TOL, abs_tol=ABS_TOL))
            for a, b in zip(gf, wf))
        if not same:
            return "line %d: got %r, the file has %r" % (n, g, w)
    return None


def check_page(tap, names):
    """Every figure is drawn and shown: its gnuplot script, its image, and in the
    page a link to the image and the query as a ```sql block."""
    description = "doc/figures.md shows every figure of %s" % FIGURES
    try:
        with open(os.path.join(ROOT, "doc/figures.md"), encoding="utf-8") as f:
            page = f.read()
    except OSError as exc:
        tap.error(description, exc)
        return
    missing = [p for name in names for p in (name + ".gp", name + ".svg")
               if not os.path.exists(os.path.join(ROOT, FIGURES, p))]
    missing += ["a link to figures/%s.svg" % name for name in names
                if "(figures/%s.svg)" % name not in page]
    for name in names:
        with open(os.path.join(ROOT, FIGURES, name + ".sql"), encoding="utf-8") as f:
            if "```sql\n%s```\n" % f.read() not in page:
                missing.append("the text of %s.sql" % name)
    tap.ok(bool(names) and not missing, description,
           "missing: %s" % ", ".join(missing) if missing else "")


def main():
    write = sys.argv[1:] == ["--write"]
    tap = _pg.Tap()
    _pg.connect_or_exit("check_figures")
    names = sorted(os.path.basename(p)[:-len(".sql")]
                   for p in glob.glob(os.path.join(ROOT, FIGURES, "*.sql")))
    names.remove("load")
    _pg.run("DROP DATABASE IF EXISTS %s;\nCREATE DATABASE %s;\n" % (DATABASE, DATABASE))
    try:
        try:
            psql(FIGURES + "/load.sql")
            loaded = tap.ok(True, "%s/load.sql loads the CDNOW sample" % FIGURES)
        except RuntimeError as exc:
            loaded = tap.error("%s/load.sql loads the CDNOW sample" % FIGURES, exc)
        for name in names if loaded else []:
            dat = os.path.join(ROOT, FIGURES, name + ".dat")
            description = "%s/%s.dat is what %s.sql returns" % (FIGURES, name, name)
            try:
                got = psql("%s/%s.sql" % (FIGURES, name))
                if write:
                    with open(dat, "w", encoding="utf-8") as f:
                        f.write(got)
                    tap.ok(True, "%s/%s.dat written" % (FIGURES, name))
                    continue
                with open(dat, encoding="utf-8") as f:
                    difference = first_difference(got, f.read())
                tap.ok(difference is None, "%s (relative tolerance %g)" % (description, REL_TOL),
                       difference or "")
            except (RuntimeError, OSError) as exc:
                tap.error(description, exc)
    finally:
        _pg.run("DROP DATABASE IF EXISTS %s;\n" % DATABASE)
    if not write:
        check_page(tap, names)
    tap.done()
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
