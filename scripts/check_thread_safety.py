#!/usr/bin/env python3
"""Clang's thread-safety analysis over every translation unit of a build.

  scripts/check_thread_safety.py BUILD_DIR      # `make test` runs it

The project builds with GCC, which ignores ABSL_GUARDED_BY and friends, and
the sanitizer builds (clang, -Wthread-safety -Werror) leave LibTorch out. This
compiles every project source in BUILD_DIR/compile_commands.json (LibTorch
targets included; tests too) with clang++ -fsyntax-only, only the
thread-safety warnings on and as errors, JOBS at a time: every unit that
uses a lock annotation, in its own text or in a project header it includes
(transitively). Prints each finding; exits 1 when there is one, 0 with a
count otherwise.
CXX_THREAD_SAFETY overrides the compiler (default clang++-14).
"""
import concurrent.futures
import json
import os
import re
import shlex
import subprocess
import sys
import time

# GCC flags clang does not know are dropped rather than failing the run.
GCC_ONLY = ("-fno-fat-lto-objects", "-fconcepts", "-Wno-maybe-uninitialized")


ANNOTATION = re.compile(r"\bABSL_(GUARDED_BY|PT_GUARDED_BY|LOCKS_EXCLUDED|"
                        r"EXCLUSIVE_LOCKS_REQUIRED|SHARED_LOCKS_REQUIRED|"
                        r"ACQUIRED_(BEFORE|AFTER)|EXCLUSIVE_LOCK_FUNCTION|"
                        r"UNLOCK_FUNCTION|LOCKABLE|SCOPED_LOCKABLE|"
                        r"ASSERT_EXCLUSIVE_LOCK)\b")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def uses_annotations(path, source, memo):
    """Whether `path` or a project header it includes names an annotation."""
    if path in memo:
        return memo[path]
    memo[path] = False  # include cycles end here
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return False
    found = bool(ANNOTATION.search(text))
    for header in INCLUDE.findall(text):
        if found:
            break
        candidate = os.path.join(source, header)
        if os.path.isfile(candidate):
            found = uses_annotations(candidate, source, memo)
    memo[path] = found
    return found


def clang_command(entry, clang):
    args = entry.get("arguments") or shlex.split(entry["command"])
    out = [clang]
    skip = False
    for arg in args[1:]:
        if skip:
            skip = False
            continue
        if arg in ("-o", "-MF", "-MT", "-MQ"):
            skip = True
            continue
        if arg in ("-c", "-MD", "-MMD") or arg.startswith(GCC_ONLY):
            continue
        if arg.startswith("-W") or arg == "-Werror":
            continue  # the project's GCC warnings; only thread-safety here
        out.append(arg)
    return out + ["-fsyntax-only", "-Wno-everything", "-Wthread-safety",
                  "-Werror=thread-safety"]


def check(entry, clang):
    started = time.time()
    run = subprocess.run(clang_command(entry, clang), cwd=entry["directory"],
                         capture_output=True, text=True)
    return entry["file"], run.returncode, run.stdout + run.stderr, time.time() - started


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    build = os.path.abspath(sys.argv[1])
    source = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
    clang = os.environ.get("CXX_THREAD_SAFETY", "clang++-14")
    with open(os.path.join(build, "compile_commands.json")) as f:
        entries = [e for e in json.load(f)
                   if os.path.abspath(e["file"]).startswith(source + os.sep)]
    memo = {}
    entries = [e for e in entries
               if uses_annotations(os.path.abspath(e["file"]), source, memo)]
    if not entries:
        print("check_thread_safety: no annotated project sources in %s" % build)
        return 1
    jobs = int(os.environ.get("JOBS", "2"))
    failures = 0
    started = time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for path, code, output, _ in pool.map(lambda e: check(e, clang), entries):
            if code != 0:
                failures += 1
                print("%s:\n%s" % (os.path.relpath(path, source), output.strip()))
    print("check_thread_safety: %d translation units, %d with findings, %.0f s"
          % (len(entries), failures, time.time() - started))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
