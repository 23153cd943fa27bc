#!/usr/bin/env python3
"""Fails when a module includes what its layer may not (README "Layout").

  check_layering.py SOURCE_DIR

Rules, over every .h/.cc under each folder (tests included):
  learner/         nothing from actor/ (the learner never builds an env)
  learner/client/  nothing from common/torch/, the rest of learner/, nor
                   LibTorch (the learner's clients run in the actor)
  replay/          nothing from actor/, learner/, common/torch/, nor LibTorch
  common/ (outside common/torch/)  nothing from actor/, learner/, replay/,
                   common/torch/, nor LibTorch
Prints one line per offending include (file:line: include, and the rule)
and exits 1; prints the number of files checked and exits 0 otherwise.
Link-level rules (which library may link which) are checked when CMake
configures (cmake/ShoalLayering.cmake).
"""
import os
import re
import sys

TORCH = r'(torch/|ATen/|c10/|caffe2/)'
RULES = [
    # (folder, folders excluded, forbidden include pattern, why)
    ("learner", [], r'"actor/', "the learner never builds an env"),
    ("learner/client", [], r'"(common/torch|learner/(?!client/))',
     "the learner's clients are torch-free and link no learner code"),
    ("learner/client", [], r'[<"]' + TORCH, "the learner's clients do not use LibTorch"),
    ("replay", [], r'"(actor|learner|common/torch)/', "replay is below actor and learner"),
    ("replay", [], r'[<"]' + TORCH, "replay does not use LibTorch"),
    ("common", ["common/torch"], r'"(actor|learner|replay|common/torch)/',
     "common is below every module"),
    ("common", ["common/torch"], r'[<"]' + TORCH, "only common/torch uses LibTorch"),
]
INCLUDE = re.compile(r'^\s*#\s*include\s+(\S+)')


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    root = sys.argv[1]
    problems = []
    checked = 0
    for folder, excluded, pattern, why in RULES:
        forbidden = re.compile(pattern)
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, folder)):
            rel_dir = os.path.relpath(dirpath, root)
            if any(rel_dir == e or rel_dir.startswith(e + "/") for e in excluded):
                continue
            for name in filenames:
                if not name.endswith((".h", ".cc")):
                    continue
                path = os.path.join(dirpath, name)
                checked += 1
                with open(path, encoding="utf-8", errors="replace") as f:
                    for number, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if m and forbidden.match(m.group(1)):
                            problems.append("%s:%d: %s (%s)" % (
                                os.path.relpath(path, root), number,
                                m.group(1), why))
    for p in problems:
        print(p)
    if problems:
        print("%d includes break the layering" % len(problems))
        return 1
    if checked == 0:
        print("no source files found under %s" % root)
        return 1
    print("layering: %d file checks, no forbidden include" % checked)
    return 0


if __name__ == "__main__":
    sys.exit(main())
