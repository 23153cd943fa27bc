"""Python stubs for shoal's protos, generated at run time.

shoal ships no pre-generated Python code: the .proto files under proto/ are
the contract, and any gRPC language can compile them. This module runs
`python3 -m grpc_tools.protoc` (Debian: python3-grpc-tools) on the protos a
caller names, plus every shoal/v1 proto they import, into a temporary
directory, and imports the results:

    import shoal_stubs
    stubs = shoal_stubs.load("replay")
    stubs.replay_pb2.InfoRequest(), stubs.replay_pb2_grpc.ReplayServiceStub
    stubs.tensor_pb2.Tensor     # imported by replay.proto, so loaded too

The directory lives as long as the process and is removed at exit.
Generated modules are cached: a second load() of the same proto costs
nothing, and load() of another proto adds to the same package.
"""

import atexit
import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import types

# proto/ of this checkout (tests/python/../../proto).
DEFAULT_PROTO_DIR = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                 "proto"))

# Protos of the package live under <proto_dir>/shoal/v1/.
_PACKAGE = ("shoal", "v1")
_IMPORT_RE = re.compile(r'^\s*import\s+(?:public\s+|weak\s+)?"shoal/v1/'
                        r'([A-Za-z0-9_]+)\.proto"\s*;', re.MULTILINE)

_lock = threading.Lock()
_out_dir = None     # the temporary directory, once created
_proto_dir = None   # the proto dir the stubs came from
_generated = set()  # proto names (e.g. "tensor") already compiled


class StubError(RuntimeError):
    """grpc_tools is missing, or protoc failed on a proto."""


def _closure(proto_dir, names):
    """`names` plus every shoal/v1 proto they import, transitively."""
    todo = list(names)
    seen = []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = os.path.join(proto_dir, *_PACKAGE, name + ".proto")
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise StubError("cannot read %s: %s" % (path, e)) from e
        seen.append(name)
        todo.extend(_IMPORT_RE.findall(text))
    return seen


def _cleanup():
    if _out_dir is not None:
        shutil.rmtree(_out_dir, ignore_errors=True)


def load(*names, proto_dir=None):
    """Generates (once) and imports shoal/v1/<name>.proto for each name.

    Args:
      names: proto base names, e.g. "replay", "env".
      proto_dir: the directory holding shoal/v1/*.proto; defaults to the one
        of earlier calls, else the proto/ of this checkout. Every call in one
        process must use the same.

    Returns:
      A namespace with attributes <name>_pb2 and <name>_pb2_grpc for each
      name and for each shoal/v1 proto it imports (e.g. tensor_pb2).

    Raises:
      StubError: grpc_tools is not installed, or protoc failed.
    """
    global _out_dir, _proto_dir
    with _lock:
        proto_dir = os.path.abspath(proto_dir or _proto_dir
                                    or DEFAULT_PROTO_DIR)
        if _proto_dir is not None and proto_dir != _proto_dir:
            raise StubError("stubs already generated from %s, not %s"
                            % (_proto_dir, proto_dir))
        wanted = _closure(proto_dir, names)
        missing = [n for n in wanted if n not in _generated]
        if missing:
            try:
                import grpc_tools  # noqa: F401
            except ImportError as e:
                raise StubError(
                    "%s under %s; install python3-grpc-tools (and "
                    "python3-grpcio)" % (e, sys.executable)) from e
            if _out_dir is None:
                _out_dir = tempfile.mkdtemp(prefix="shoal_stubs_")
                atexit.register(_cleanup)
                sys.path.insert(0, _out_dir)
            _proto_dir = proto_dir
            protos = [os.path.join(proto_dir, *_PACKAGE, n + ".proto")
                      for n in missing]
            done = subprocess.run(
                [sys.executable, "-m", "grpc_tools.protoc", "-I" + proto_dir,
                 "--python_out=" + _out_dir, "--grpc_python_out=" + _out_dir]
                + protos, capture_output=True, text=True)
            if done.returncode != 0:
                raise StubError("grpc_tools.protoc failed (exit %d): %s"
                                % (done.returncode, done.stderr.strip()))
            _generated.update(missing)
            importlib.invalidate_caches()  # the new files must be seen
        stubs = types.SimpleNamespace()
        package = ".".join(_PACKAGE)
        for name in wanted:
            for suffix in ("_pb2", "_pb2_grpc"):
                module = importlib.import_module(
                    "%s.%s%s" % (package, name, suffix))
                setattr(stubs, name + suffix, module)
        return stubs
