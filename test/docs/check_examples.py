#!/usr/bin/env python3
"""Run the SQL examples of the documentation and compare what they print.

The documents promise that every output shown was produced by the query
above it.  For each document named below, every ```sql block runs, in
order, in one psql session (later blocks use the tables of earlier ones), in
a new database from the repository root; a block followed directly by
a plain ``` block must print exactly that text (trailing spaces aside).
psql runs with its footer off, as the documents show results.  One TAP line
per compared block, and one for the document's blocks running at all.
doc/reference.md and doc/trees.md use the tables of doc/btyd.md (as they
say): the blocks of that document run first, in the same database, without
being compared.
"""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import _pg  # noqa: E402  (the shared psql and TAP helpers)

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
# each document, with the documents whose tables it uses
DOCUMENTS = [("doc/btyd.md", []), ("doc/tutorial.md", []),
             ("doc/reference.md", ["doc/btyd.md"]), ("doc/trees.md", ["doc/btyd.md"]),
             ("doc/decisions.md", ["doc/btyd.md"]), ("doc/learners.md", [])]
FENCE = re.compile(r"^```(\w*)\s*$")
MARK = "@@clv-doc-block@@"


def blocks(path):
    """(line, sql, expected or None) for each ```sql block of a Markdown file."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    fenced, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].rstrip() != "```":
            j += 1
        fenced.append((i + 1, m.group(1), "\n".join(lines[i + 1:j]), j))
        i = j + 1
    out = []
    for k, (line, lang, text, end) in enumerate(fenced):
        if lang != "sql":
            continue
        expected = None
        if k + 1 < len(fenced):
            nline, nlang, ntext, _ = fenced[k + 1]
            # the result block must follow the query directly
            if nlang == "" and nline == end + 2:
                expected = ntext
        out.append((line, text, expected))
    return out


def normalise(text):
    return "\n".join(l.rstrip() for l in text.strip("\n").split("\n"))


def check(tap, doc, uses):
    database = "clv_doc_" + re.sub(r"\W", "_", os.path.splitext(os.path.basename(doc))[0])
    found = blocks(os.path.join(ROOT, doc))
    script = ["\\pset footer off"]
    for other in uses:
        script += [sql for _, sql, _ in blocks(os.path.join(ROOT, other))]
    for n, (_, sql, _) in enumerate(found):
        script += ["\\echo %s %d" % (MARK, n), sql]
    script += ["\\echo %s end" % MARK]
    # a database of its own: the document starts with CREATE EXTENSION, as a reader would
    _pg.run("DROP DATABASE IF EXISTS %s;\nCREATE DATABASE %s;\n" % (database, database))
    env = dict(_pg._env(), PGDATABASE=database)
    try:
        # errors in line with the results, as a reader sees them (an example may
        # show one on purpose)
        proc = subprocess.run([_pg._psql_path(), "-X", "-q", "-f", "-"],
                              input="\n".join(script) + "\n", stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env)
    finally:
        _pg.run("DROP DATABASE IF EXISTS %s;\n" % database)
    printed = re.sub(r"^psql:<stdin>:\d+: ", "", proc.stdout, flags=re.M)
    outputs = {}
    for part in printed.split(MARK + " ")[1:]:
        key, _, body = part.partition("\n")
        outputs[key] = body
    # an error is expected only where the document shows one
    unexpected = [found[int(k)][0] for k, body in outputs.items()
                  if k != "end" and "ERROR:" in body and "ERROR:" not in (found[int(k)][2] or "")]
    ran = "end" in outputs and proc.returncode == 0 and not unexpected
    if not ran:
        print("# psql exit %d; unexpected errors in the examples at lines %s"
              % (proc.returncode, unexpected))
    tap.ok(ran, "%s: all %d SQL examples run" % (doc, len(found)))
    for n, (line, _, expected) in enumerate(found):
        if expected is None:
            continue
        got = outputs.get(str(n))
        if got is None:
            tap.ok(False, "%s line %d: the example prints what the document shows" % (doc, line),
                   "the example did not run")
            continue
        same = normalise(got) == normalise(expected)
        if not same:
            print("# %s line %d printed:" % (doc, line))
            print("\n".join("#   " + l for l in normalise(got).split("\n")))
            print("# the document shows:")
            print("\n".join("#   " + l for l in normalise(expected).split("\n")))
        tap.ok(same, "%s line %d: the example prints what the document shows" % (doc, line),
               "" if same else "see the lines above")


def main():
    tap = _pg.Tap()
    _pg.connect_or_exit("check_examples")
    for doc, uses in DOCUMENTS:
        try:
            check(tap, doc, uses)
        except Exception as exc:   # noqa: BLE001
            tap.error(doc, exc)
    tap.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
