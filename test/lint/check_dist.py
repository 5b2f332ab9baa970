#!/usr/bin/python3
"""Check the release metadata and the archive `make dist` writes.

META.json must be valid JSON of the PGXN meta spec 1.0.0 with its required keys,
and its version must be clv.control's default_version and the version of the
CHANGELOG's latest heading; every file it names must exist.  `make dist`, run
into a temporary directory, must write clv-VERSION.zip with every entry under
clv-VERSION/, holding META.json, clv.control, the Makefile, src/ and sql/ and no
build product.  The archive is made from the commit at HEAD, so what this checks
of it is what was committed.  Prints TAP lines and exits 0; run.sh counts them.
Environment: PG_CONFIG, for make (the Makefile includes PGXS).
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REQUIRED = ("name", "abstract", "version", "maintainer", "license", "provides", "meta-spec")
IN_ARCHIVE = ("META.json", "clv.control", "Makefile", "src/", "sql/")
# Build products by name, besides whatever .gitignore ignores.
BUILT = re.compile(r"\.(o|so|bc|zip|tar\.gz)$|(^|/)(results|regression\.(diffs|out))(/|$)")


def tap(ok, name, details=()):
    """One TAP line, with the details as comments when it fails."""
    print("%s - dist: %s" % ("ok" if ok else "not ok", name))
    for d in () if ok else details:
        print("#   " + d)
    return ok


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def control_version():
    m = re.search(r"^default_version\s*=\s*'([^']*)'", read("clv.control"), re.M)
    return m.group(1) if m else None


def changelog_version():
    """The version in the first `## ` heading ("## Unreleased — 0.2.0")."""
    for line in read("CHANGELOG.md").splitlines():
        if line.startswith("## "):
            m = re.search(r"\b(\d+\.\d+\.\d+)\b", line)
            return m.group(1) if m else None
    return None


def check_meta():
    try:
        meta = json.loads(read("META.json"))
    except (OSError, ValueError) as e:
        tap(False, "META.json is valid JSON", [str(e)])
        return None
    missing = [k for k in REQUIRED if k not in meta]
    spec = meta.get("meta-spec", {}).get("version")
    tap(not missing and spec == "1.0.0",
        "META.json is valid JSON with the keys of meta spec 1.0.0",
        ["missing: " + ", ".join(missing)] if missing else
        [] if spec == "1.0.0" else ["meta-spec version %r" % spec])

    versions = {"META.json": meta.get("version"), "clv.control": control_version(),
                "CHANGELOG.md": changelog_version()}
    versions.update(("META.json provides " + name, ext.get("version"))
                    for name, ext in meta.get("provides", {}).items())
    tap(len(set(versions.values())) == 1 and None not in versions.values(),
        "one version everywhere: %s" % versions["clv.control"],
        ["%s: %s" % kv for kv in versions.items()])

    named = [ext[k] for ext in meta.get("provides", {}).values()
             for k in ("file", "docfile") if k in ext]
    absent = [p for p in named if not os.path.isfile(os.path.join(ROOT, p))]
    tap(named and not absent, "the %d files META.json names exist" % len(named),
        ["missing: " + p for p in absent])
    return meta


def build_products(files):
    """The files named like a build product or ignored by .gitignore, tracked or not."""
    out = subprocess.run(["git", "-C", ROOT, "check-ignore", "--no-index", "--stdin"],
                         input="\n".join(f for f in files if not f.endswith("/")),
                         capture_output=True, text=True)
    return sorted(set([f for f in files if BUILT.search(f)] + out.stdout.split()))


def self_test():
    built = ["src/core/model.o", "clv.so", "test/unit/test_core", "results/summary.out"]
    source = ["src/core/model.c", "test/unit/test_core.c", "expected/summary.out", "sql/"]
    found = build_products(built + source)
    tap(found == sorted(built), "the check tells %d build products from %d sources"
        % (len(built), len(source)), ["found: " + ", ".join(found)])


def check_archive(meta):
    version = control_version()
    name = "clv-%s" % version
    with tempfile.TemporaryDirectory() as tmp:
        make = subprocess.run(["make", "-s", "-C", ROOT,
                               "PG_CONFIG=" + os.environ.get("PG_CONFIG", "pg_config"),
                               "dist", "DISTDIR=" + tmp],
                              capture_output=True, text=True)
        zip_path = os.path.join(tmp, name + ".zip")
        if not tap(make.returncode == 0 and os.path.isfile(zip_path),
                   "make dist writes %s.zip" % name,
                   (make.stdout + make.stderr).splitlines()[-10:]):
            return
        entries = zipfile.ZipFile(zip_path).namelist()
    outside = [e for e in entries if not e.startswith(name + "/")]
    files = [e[len(name) + 1:] for e in entries if e.startswith(name + "/")]
    tap(not outside, "every entry of the archive is under %s/" % name, outside[:10])
    wanted = list(IN_ARCHIVE) + [ext[k] for ext in (meta or {}).get("provides", {}).values()
                                 for k in ("file", "docfile") if k in ext]
    lacking = [w for w in wanted
               if not any(f == w or (w.endswith("/") and f.startswith(w) and f != w)
                          for f in files)]
    tap(not lacking, "the archive holds %s" % ", ".join(dict.fromkeys(wanted)),
        ["missing: " + w for w in lacking])
    built = build_products([f for f in files if f])
    tap(not built, "no build product in the archive (%d files)" % len(files), built[:10])


def main():
    meta = check_meta()
    if subprocess.run(["git", "-C", ROOT, "rev-parse", "--verify", "-q", "HEAD"],
                      capture_output=True).returncode != 0:
        print("ok - dist: make dist # SKIP not a git checkout with a commit")
        return 0
    self_test()
    check_archive(meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
