#!/usr/bin/python3
"""Fail when a test file names a path outside the repository.

Every test stage runs from the repository root, so a relative path that
climbs above it (a "../" prefix, os.path.join(root, "..", ...)) or an
absolute path into a home or work directory reads something a clone of the
project does not have.  Checked: the files under sql/, expected/ and
test/, except the optional stages listed in OPTIONAL, which look for their
outside inputs themselves and print a TAP SKIP line when they are missing.
Prints one TAP line per file group and exits 0; run.sh counts the lines.
"""

import os
import posixpath
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECKED = ("sql", "expected", "test")
OPTIONAL = ("test/citus/",)          # optional stages with outside inputs
SELF = "test/lint/check_paths.py"    # its comments describe the patterns
# A relative path that climbs: "../x" at the start of a token, or "/../.."
# after a command substitution such as $(dirname "$0").
CLIMB = re.compile(r"""(?:^|(?<=[\s'"`(=:,\[]))((?:\./)*\.\./[^\s'"`),;\]]*)"""
                   r"""|(?<=\))(/\.\.(?:/[^\s'"`),;\]]*)?)""")
# A path from a variable that holds the root: $ROOT/../x, ${CLV_ROOT}/../x.
FROM_ROOT = re.compile(r"""\$\{?\w*(?:ROOT|REPO)\w*\}?(/[^\s'"`),;\]}]*)""")
# Path components passed one by one: os.path.join(base, "..", "x").
QUOTED_UP = re.compile(r"""(["'])\.\.\1""")
# A line that builds a path from the file's own location.
SELF_RELATIVE = re.compile(r"__file__|\$0\b|BASH_SOURCE")
# Absolute paths into places that belong to a machine, not to the project.
ABSOLUTE = re.compile(r"""(?:^|(?<=[\s'"`(=:,\[]))(~/|/(?:work|home|root|mnt|media|srv)/)""")


def tracked_files():
    try:
        out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard", "--", *CHECKED],
                             check=True, capture_output=True).stdout
        return sorted(p for p in out.decode().split("\0") if p)
    except (OSError, subprocess.CalledProcessError):
        found = []
        for top in CHECKED:
            for d, _, files in os.walk(os.path.join(ROOT, top)):
                found += [os.path.relpath(os.path.join(d, f), ROOT) for f in files]
        return sorted(found)


def leaves_root(base, path):
    """Whether path, relative to base (a directory relative to the root), climbs out."""
    return posixpath.normpath(posixpath.join(base, path)).split("/")[0] == ".."


def climbing_paths(line):
    paths = [(m.group(1) or m.group(2)).lstrip("/") for m in CLIMB.finditer(line)]
    paths += ["." + m.group(1) for m in FROM_ROOT.finditer(line)]
    ups = len(QUOTED_UP.findall(line))
    if ups:
        paths.append("/".join([".."] * ups))
    return paths


def problems(rel):
    try:
        with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (UnicodeDecodeError, FileNotFoundError):
        return []                    # binary data (fuzz corpus) or deleted
    return ["%s:%d: %s" % (rel, no, line.strip())
            for no, line in enumerate(lines, 1) if line_problem(rel, line)]


def line_problem(rel, line):
    # Tests run from the root; a script that locates itself starts from its folder.
    base = posixpath.dirname(rel) if SELF_RELATIVE.search(line) else "."
    return any(leaves_root(base, p) for p in climbing_paths(line)) or bool(ABSOLUTE.search(line))


# Lines the check must flag, and lines it must let pass, as (file, line).  The
# outside paths are assembled from parts, so that this file names none itself.
UP, HOME = "." + ".", "/" + "home"
SELF_TEST_BAD = [
    ("sql/x.sql", "\\copy t FROM '" + UP + "/elsewhere/cbs.csv' WITH (FORMAT csv)"),
    ("test/x.py", 'CBS = os.path.join(REPO, "' + UP + '", "elsewhere", "cbs.csv")'),
    ("test/bench/x.sh", "CBS=${BENCH_CBS:-$ROOT/" + UP + "/elsewhere/cbs.csv}"),
    ("test/x.sh", 'SRC=$(dirname "$0")/' + UP + "/" + UP + "/" + UP + "/vendor"),
    ("test/x.md", "read from `" + UP + "/elsewhere/data/`"),
    ("test/x.sh", "tar xf " + HOME + "/someone/citus.tar.gz"),
]
SELF_TEST_GOOD = [
    ("sql/x.sql", "\\copy t FROM 'test/data/cdnow_sample.txt'"),
    ("sql/x.sql", "FOR i IN 0 .. length(b) - 1 LOOP"),
    ("test/bench/x.sh", 'ROOT=$(cd "$(dirname "$0")/../.." && pwd)'),
    ("test/docs/x.py", 'ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")'),
]


def self_test():
    wrong = [l for f, l in SELF_TEST_BAD if not line_problem(f, l)]
    wrong += [l for f, l in SELF_TEST_GOOD if line_problem(f, l)]
    print("%s - the path check tells %d outside paths from %d inside ones"
          % ("not ok" if wrong else "ok", len(SELF_TEST_BAD), len(SELF_TEST_GOOD)))
    for l in wrong:
        print("#   misjudged: " + l)


def main():
    self_test()
    files = [f for f in tracked_files() if not f.startswith(OPTIONAL) and f != SELF]
    bad = [p for f in files for p in problems(f)]
    if bad:
        print("not ok - %d files under %s name no path outside the repository"
              % (len(files), ", ".join(CHECKED)))
        for p in bad:
            print("#   " + p)
    else:
        print("ok - %d files under %s name no path outside the repository"
              % (len(files), ", ".join(CHECKED)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
