#!/usr/bin/python3
"""tests/docs/run_examples.py SRC BUILD CLI SHARED SCRATCH [DOC...] — runs every
example in the docs that is marked runnable, the way a reader would paste it.

A fenced block whose info string is `sh runnable` (GitHub still highlights it
as sh) is run with `sh -eu` in a scratch directory per document, blocks of one
document in order (a later block may use what an earlier one made). The
scratch directory holds what the docs assume a reader has at hand:
flchain.csv and diabetic_data.csv (from ../shared/data), `data` (the source
tree's data/) and `build` (the build tree); first on PATH are the CLI under test as `strata`,
then Debian's /usr/bin (its python3 has numpy). A block tagged `nosan` (`sh runnable nosan`) is skipped when
STRATA_SANITIZE=1 (python3 cannot load an ASan library). Prints one line per
block and a last line "docs examples: N blocks ran, M skipped in K documents";
exits 1 naming the document, line, command output and exit code of the first
block that fails."""
import glob
import os
import re
import shutil
import subprocess
import sys

FIXTURES = {
    "flchain.csv": "r_survival_datasets/flchain.csv",
    "diabetic_data.csv": "uci_diabetes_130us/diabetic_data.csv",
}


def blocks(path):
    """(line, tags, text) of each runnable block of a Markdown file."""
    out, cur, start, tags = [], None, 0, []
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        fence = re.match(r"^```\s*(.*)$", line.rstrip("\n"))
        if cur is None and fence and fence.group(1):
            info = fence.group(1).split()
            if info[0] == "sh" and "runnable" in info[1:]:
                cur, start, tags = [], n, info[1:]
            elif fence.group(1):
                cur, start, tags = [], n, None  # another language: skip its body
        elif cur is not None and fence and not fence.group(1):
            if tags is not None:
                out.append((start, tags, "".join(cur)))
            cur = None
        elif cur is not None:
            cur.append(line)
    return out


def main():
    src, build, cli, shared, scratch = sys.argv[1:6]
    docs = sys.argv[6:] or [os.path.join(src, "README.md")] + sorted(
        glob.glob(os.path.join(src, "docs", "*.md")))
    sanitized = os.environ.get("STRATA_SANITIZE") == "1"
    bindir = os.path.join(scratch, "bin")
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(bindir)
    os.symlink(os.path.abspath(cli), os.path.join(bindir, "strata"))
    # Debian's python3 (the one with python3-numpy) before any other on PATH
    env = dict(os.environ, PATH=os.pathsep.join([bindir, "/usr/bin", "/bin", os.environ.get("PATH", "")]),
               PYTHONDONTWRITEBYTECODE="1")
    ran = skipped = ndocs = 0
    for doc in docs:
        found = blocks(doc)
        if not found:
            continue
        ndocs += 1
        name = os.path.relpath(doc, src)
        work = os.path.join(scratch, re.sub(r"[^A-Za-z0-9]+", "_", name))
        os.makedirs(work)
        for f, rel in FIXTURES.items():
            if os.path.exists(os.path.join(shared, rel)):
                os.symlink(os.path.join(shared, rel), os.path.join(work, f))
        os.symlink(os.path.join(src, "data"), os.path.join(work, "data"))
        os.symlink(os.path.abspath(build), os.path.join(work, "build"))
        for line, tags, text in found:
            if sanitized and "nosan" in tags:
                print(f"{name}:{line}: skipped (nosan under sanitizers)")
                skipped += 1
                continue
            r = subprocess.run(["sh", "-eu", "-c", text], cwd=work, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
            if r.returncode != 0:
                print(f"{name}:{line}: example failed with exit {r.returncode}:\n{text}"
                      f"--- output ---\n{r.stdout.decode(errors='replace')}")
                return 1
            print(f"{name}:{line}: ok ({len(text.splitlines())} lines)")
            ran += 1
    print(f"docs examples: {ran} blocks ran, {skipped} skipped in {ndocs} documents")
    return 0


if __name__ == "__main__":
    sys.exit(main())
