#!/usr/bin/env python3
"""A pure-Python client of shoal's ReplayService (proto/shoal/v1/replay.proto).

Proof that any gRPC language can write to and read from a replay shard: the
only inputs are the .proto files, compiled at start-up by shoal_stubs.py,
and the byte layout of proto/shoal/v1/tensor.proto (row-major,
little-endian), encoded with the `struct` module. No numpy.

Library use:

    from replay_client import ReplayClient
    with ReplayClient("127.0.0.1:7000") as replay:
        print(replay.info().tables[0].size)
        replay.insert("transitions", [
            {"observation": [0.0, 0.5, 1.0, 1.5], "action": 1,
             "reward": 1.0, "discount": 0.99,
             "next_observation": [0.5, 1.0, 1.5, 2.0]},
        ])
        for sample in replay.sample("transitions", 2):
            print(sample.key, sample.columns["action"])

Command line (one JSON item per argument, or per line of --items_file):

    python3 tests/python/replay_client.py --replay 127.0.0.1:7000 info
    python3 tests/python/replay_client.py --replay 127.0.0.1:7000 \\
        insert --table transitions '{"observation": [0, 1, 2, 3], ...}'
    python3 tests/python/replay_client.py --replay 127.0.0.1:7000 \\
        sample --table transitions 4

Values map to tensors through the table signature (read once with Info):
a column's dtype is the signature's, its shape is the nesting of the Python
value (a number is a scalar, [1, 2] has shape [2], [[1], [2]] shape [2, 1]).
float32 columns round values to binary32, so read back 0.1 is
0.10000000149011612. A column value may also be a ready shoal.v1.Tensor
(see encode_tensor), sent exactly as given.

Exactly-once inserts: every client is one writer (InsertRequest.writer_id,
random unless given) that numbers its items 1, 2, 3, ... Resending after a
dropped connection (retries) reuses the numbers, so the shard stores each
item once. Plaintext gRPC only; a bearer token (tokens_file on the server)
can be given with --token_file.
"""

import argparse
import collections.abc
import dataclasses
import json
import math
import os
import secrets
import struct
import sys
import threading
import time

import shoal_stubs

# dtype name -> (struct format character, bytes per element); the names are
# those of DTypeName() in common/tensor_codec.h and of the config signature.
_FORMATS = {
    "float32": ("f", 4),
    "float64": ("d", 8),
    "int32": ("i", 4),
    "int64": ("q", 8),
    "uint8": ("B", 1),
    "bool": ("B", 1),  # one byte, 0 or 1; checked both ways
}

# Items per insert message are split so one message stays under this many
# serialised bytes (the shard's default cap is 4 MiB).
DEFAULT_MAX_REQUEST_BYTES = 1 << 20


def _stubs():
    """The generated modules (replay_pb2, replay_pb2_grpc, tensor_pb2, ...)."""
    return shoal_stubs.load("replay")


def dtype_name(dtype):
    """'float32', ... for a DType enum value or name; ValueError otherwise."""
    tensor_pb2 = _stubs().tensor_pb2
    if isinstance(dtype, str):
        name = dtype.lower()
        if name.startswith("dtype_"):
            name = name[len("dtype_"):]
    else:
        try:
            name = tensor_pb2.DType.Name(dtype)[len("DTYPE_"):].lower()
        except ValueError:
            name = str(dtype)
    if name not in _FORMATS:
        raise ValueError("unknown dtype %r (want one of %s)"
                         % (dtype, ", ".join(_FORMATS)))
    return name


def _dtype_enum(name):
    return _stubs().tensor_pb2.DType.Value("DTYPE_" + name.upper())


def _shape_of(value, where):
    """The shape of a nested list/tuple of numbers; [] for a number."""
    if isinstance(value, (list, tuple)):
        if not value:
            return [0]
        inner = [_shape_of(v, where) for v in value]
        if any(s != inner[0] for s in inner):
            raise ValueError("%s: ragged nested list (sub-shapes %s)"
                             % (where, sorted({str(s) for s in inner})))
        return [len(value)] + inner[0]
    return []


def _flatten(value, out):
    if isinstance(value, (list, tuple)):
        for v in value:
            _flatten(v, out)
    else:
        out.append(value)
    return out


def _num_elements(shape):
    n = 1
    for extent in shape:
        n *= extent
    return n


def encode_tensor(values, dtype, shape=None, where="tensor"):
    """Encodes Python numbers as a shoal.v1.Tensor.

    Args:
      values: a number, or a nested list/tuple of numbers, row-major.
      dtype: "float32", "float64", "int32", "int64", "uint8" or "bool" (or
        the DType enum value).
      shape: the tensor's shape; None = the nesting of `values`. When given,
        `values` may be nested any way that holds product(shape) numbers.
      where: names the value in error messages.

    Returns:
      A tensor_pb2.Tensor: dtype, shape, and product(shape) * size bytes,
      little-endian.

    Raises:
      ValueError: ragged lists, a wrong element count, or a value the dtype
        cannot hold (a float in an int column, 256 in uint8, 2 in bool, ...).
    """
    name = dtype_name(dtype)
    fmt, _ = _FORMATS[name]
    flat = _flatten(values, [])
    if shape is None:
        shape = _shape_of(values, where)
    else:
        shape = [int(extent) for extent in shape]
        if any(extent < 0 for extent in shape):
            raise ValueError("%s: negative extent in shape %s"
                             % (where, shape))
        if _num_elements(shape) != len(flat):
            raise ValueError("%s: shape %s needs %d elements, got %d"
                             % (where, shape, _num_elements(shape), len(flat)))
    if name == "bool":
        for i, v in enumerate(flat):
            if not (isinstance(v, bool)
                    or (isinstance(v, int) and v in (0, 1))):
                raise ValueError("%s: element %d is %r, want a bool (or 0/1)"
                                 % (where, i, v))
        flat = [int(v) for v in flat]
    try:
        data = struct.pack("<%d%s" % (len(flat), fmt), *flat)
    except (struct.error, OverflowError, TypeError) as e:
        raise ValueError("%s: cannot encode %s as %s: %s"
                         % (where, _preview(flat), name, e)) from None
    return _stubs().tensor_pb2.Tensor(dtype=_dtype_enum(name), shape=shape,
                                      data=data)


def decode_tensor(tensor, where="tensor"):
    """Decodes a shoal.v1.Tensor into Python numbers.

    Returns a number for a scalar (shape []), else nested lists shaped like
    the tensor. float32/float64 give floats, the int dtypes ints, bool
    bools. Raises ValueError when the bytes do not match dtype and shape.
    """
    name = dtype_name(tensor.dtype)
    fmt, size = _FORMATS[name]
    shape = list(tensor.shape)
    if any(extent < 0 for extent in shape):
        raise ValueError("%s: negative extent in shape %s" % (where, shape))
    n = _num_elements(shape)
    if len(tensor.data) != n * size:
        raise ValueError("%s: %s shape %s needs %d bytes, got %d"
                         % (where, name, shape, n * size, len(tensor.data)))
    flat = list(struct.unpack("<%d%s" % (n, fmt), tensor.data))
    if name == "bool":
        for i, v in enumerate(flat):
            if v > 1:
                raise ValueError("%s: bool element %d is byte %d, want 0 or 1"
                                 % (where, i, v))
        flat = [bool(v) for v in flat]
    return _unflatten(flat, shape)


def _unflatten(flat, shape):
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return flat
    step = _num_elements(shape[1:])
    return [_unflatten(flat[i * step:(i + 1) * step], shape[1:])
            for i in range(shape[0])]


def _preview(flat, limit=8):
    text = ", ".join(repr(v) for v in flat[:limit])
    return "[%s%s]" % (text, ", ..." if len(flat) > limit else "")


def spec_string(spec):
    """'observation float32 [4]' for a TensorSpec."""
    return "%s %s [%s]" % (spec.name, dtype_name(spec.dtype),
                           ", ".join(str(e) for e in spec.shape))


@dataclasses.dataclass
class Sample:
    """One sampled item, decoded (see SampledItem in replay.proto)."""
    # Key for UpdatePriorities; the top 16 bits are the shard index.
    key: int
    priority: float
    # Probability the sampler picked it with (for importance weights).
    probability: float
    # Items in the table when it was sampled.
    table_size: int
    # Times sampled, this time included.
    times_sampled: int
    # Column name (from the table signature; "column_<i>" when the table
    # has none) -> decoded value, in signature order.
    columns: dict
    # The raw replay_pb2.Item (table, priority, columns, policy_version, ...).
    item: object


class InsertRejected(Exception):
    """The shard rejected one or more insert batches (InsertResponse.error).

    Batches are rejected whole, so nothing of a rejected batch is stored;
    other batches of the same insert() call may have been. `errors` holds
    one (code, message, first_sequence, last_sequence) tuple per rejected
    batch; `code` and `message` are those of the first.
    """

    def __init__(self, errors):
        self.errors = errors
        self.code, self.message = errors[0][0], errors[0][1]
        super().__init__("; ".join(
            "%s: %s (sequences %d..%d)" % (status_code_name(code), message,
                                           first, last)
            for code, message, first, last in errors))

    @property
    def code_name(self):
        """The first error's code as a name, e.g. 'INVALID_ARGUMENT'."""
        return status_code_name(self.code)


def status_code_name(code):
    """'INVALID_ARGUMENT' for 3: google.rpc.Code values, as gRPC names them."""
    import grpc
    for status in grpc.StatusCode:
        if status.value[0] == code:
            return status.name
    return "CODE_%d" % code


class ReplayClient:
    """A client of one replay shard, and one writer of items into it.

    Thread-safe: calls may come from several threads; insert() calls are
    serialised, because one writer's items must arrive in sequence order.
    """

    def __init__(self, address, *, writer_id=None, first_sequence=1,
                 timeout_s=30.0, token=None, retries=3, proto_dir=None,
                 max_request_bytes=DEFAULT_MAX_REQUEST_BYTES):
        """Opens a plaintext channel to `address` ("host:port").

        Args:
          address: the shard's host:port.
          writer_id: InsertRequest.writer_id; None = random. A process that
            restarts as the same writer must pass its id and the next
            unused sequence number (first_sequence) to keep exactly-once.
          first_sequence: sequence number of the next inserted item; >= 1.
          timeout_s: deadline of each call; None = no deadline.
          token: bearer token sent as `authorization: Bearer <token>`.
          retries: how often insert() reconnects and resends after
            UNAVAILABLE; the shard drops what it already stored.
          proto_dir: directory holding shoal/v1/*.proto (default: proto/ of
            this checkout).
          max_request_bytes: cap on one InsertRequest's serialised size;
            larger inserts are split (one bigger item still goes alone).
        """
        import grpc  # python3-grpcio
        self._grpc = grpc
        stubs = shoal_stubs.load("replay", proto_dir=proto_dir)
        self._pb = stubs.replay_pb2
        self._tensor_pb = stubs.tensor_pb2
        if first_sequence < 1:
            raise ValueError("first_sequence must be >= 1, got %d"
                             % first_sequence)
        self.address = address
        self.writer_id = (secrets.randbits(63) if writer_id is None
                          else int(writer_id))
        self._next_sequence = int(first_sequence)
        self._timeout_s = timeout_s
        self._metadata = ((("authorization", "Bearer " + token),) if token
                          else ())
        self._retries = retries
        self._max_request_bytes = max_request_bytes
        self._channel = grpc.insecure_channel(
            address, options=[("grpc.max_receive_message_length", 64 << 20),
                              ("grpc.max_send_message_length", 64 << 20)])
        self._stub = stubs.replay_pb2_grpc.ReplayServiceStub(self._channel)
        self._signatures = {}
        self._insert_lock = threading.Lock()

    def close(self):
        """Closes the channel."""
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def next_sequence(self):
        """Sequence number the next inserted item will get."""
        return self._next_sequence

    # --- Info -----------------------------------------------------------

    def info(self, table=""):
        """Info RPC: a replay_pb2.InfoResponse (shard_index, and for every
        table, or only `table`, its TableInfo: signature, size, bytes,
        counters, rate limiter)."""
        return self._stub.Info(self._pb.InfoRequest(table=table),
                               timeout=self._timeout_s,
                               metadata=self._metadata)

    def signature(self, table):
        """The TensorSpecs of `table`'s columns, in order (cached)."""
        if table not in self._signatures:
            info = self.info(table)
            found = [t for t in info.tables if t.name == table]
            if not found:
                raise ValueError("the shard has no table named %r" % table)
            self._signatures[table] = list(found[0].signature)
        return self._signatures[table]

    # --- Insert ---------------------------------------------------------

    def encode_item(self, table, item, priority=1.0, *, policy_version=0,
                    actor_index=0, env_id=0, where="item"):
        """Builds a replay_pb2.Item from Python values.

        `item` is a mapping {column name: value} holding exactly the
        signature's columns, or a sequence of values in signature order. A
        value is encoded with its column's dtype (encode_tensor); a
        tensor_pb2.Tensor is taken as is. Tables without a signature take
        only Tensors. Raises ValueError naming the column.
        """
        signature = self.signature(table)
        names = [spec.name for spec in signature]
        if isinstance(item, collections.abc.Mapping):
            if not signature:
                raise ValueError("%s: table %r has no signature, so items "
                                 "must be sequences of Tensors"
                                 % (where, table))
            unknown = sorted(set(item) - set(names))
            missing = [name for name in names if name not in item]
            if unknown or missing:
                raise ValueError(
                    "%s: columns must be %s; missing %s, unknown %s"
                    % (where, names, missing, unknown))
            values = [item[name] for name in names]
        elif isinstance(item, (list, tuple)):
            values = list(item)
            if signature and len(values) != len(signature):
                raise ValueError("%s: %d columns, the signature of %r has %d "
                                 "(%s)" % (where, len(values), table,
                                           len(signature), ", ".join(names)))
        else:
            raise ValueError("%s: want a dict or a list of column values, "
                             "got %s" % (where, type(item).__name__))
        columns = []
        for i, value in enumerate(values):
            column = "%s.columns[%d]" % (where, i)
            if signature:
                column += " (%s)" % names[i]
            if isinstance(value, self._tensor_pb.Tensor):
                columns.append(value)
            elif not signature:
                raise ValueError("%s: table %r has no signature, so columns "
                                 "must be Tensors (encode_tensor)"
                                 % (column, table))
            else:
                columns.append(encode_tensor(value, signature[i].dtype,
                                             where=column))
        return self._pb.Item(table=table, priority=priority, columns=columns,
                             policy_version=policy_version,
                             actor_index=actor_index, env_id=env_id)

    def insert(self, table, items, priorities=1.0, *, policy_version=0,
               actor_index=0, env_id=0):
        """Inserts `items` into `table`, in order; returns their sequence
        numbers as a range.

        Args:
          table: the table name.
          items: item values (see encode_item), or replay_pb2.Item messages
            sent as they are.
          priorities: one float for every item, or one per item; >= 0.
          policy_version, actor_index, env_id: Item metadata for all items.

        Raises:
          ValueError: an item could not be encoded; nothing was sent.
          InsertRejected: the shard rejected a batch (e.g. INVALID_ARGUMENT
            "items[0].columns[1] (action): dtype float32 != signature dtype
            int64"); nothing of that batch is stored. The sequence numbers
            are spent either way.
          grpc.RpcError: the call failed (after `retries` reconnects for
            UNAVAILABLE); resending the same items is then safe only with
            the same sequence numbers, i.e. from a new client with this
            writer_id and first_sequence.
        """
        items = list(items)
        if not items:
            raise ValueError("insert: no items")
        if isinstance(priorities, (int, float)):
            priorities = [float(priorities)] * len(items)
        priorities = list(priorities)
        if len(priorities) != len(items):
            raise ValueError("insert: %d priorities for %d items"
                             % (len(priorities), len(items)))
        encoded = []
        for i, (item, priority) in enumerate(zip(items, priorities)):
            if isinstance(item, self._pb.Item):
                encoded.append(item)
            else:
                encoded.append(self.encode_item(
                    table, item, priority, policy_version=policy_version,
                    actor_index=actor_index, env_id=env_id,
                    where="items[%d]" % i))
        with self._insert_lock:
            first = self._next_sequence
            self._next_sequence += len(encoded)
            self._send(self._batches(encoded, first))
        return range(first, first + len(encoded))

    def _batches(self, items, first):
        """InsertRequests of consecutive items under max_request_bytes."""
        batches = []
        batch, batch_bytes = [], 0
        for item in items:
            size = item.ByteSize() + 8  # + field tag and length
            if batch and batch_bytes + size > self._max_request_bytes:
                batches.append(batch)
                batch, batch_bytes = [], 0
            batch.append(item)
            batch_bytes += size
        batches.append(batch)
        requests = []
        for batch in batches:
            requests.append(self._pb.InsertRequest(
                writer_id=self.writer_id, first_sequence=first, items=batch))
            first += len(batch)
        return requests

    def _send(self, requests):
        """Streams `requests`, reads their acknowledgements; reconnects and
        resends what was not acknowledged after UNAVAILABLE."""
        grpc = self._grpc
        last = requests[-1].first_sequence + len(requests[-1].items) - 1
        acked = requests[0].first_sequence - 1
        errors = []
        attempt = 0
        while acked < last:
            unacked = [r for r in requests
                       if r.first_sequence + len(r.items) - 1 > acked]
            try:
                for response in self._stub.InsertStream(
                        iter(unacked), timeout=self._timeout_s,
                        metadata=self._metadata):
                    if response.HasField("error"):
                        e = response.error
                        errors.append((e.code, e.message, e.first_sequence,
                                       response.acked_sequence))
                    acked = max(acked, response.acked_sequence)
            except grpc.RpcError as e:
                if (e.code() != grpc.StatusCode.UNAVAILABLE
                        or attempt >= self._retries):
                    raise
                attempt += 1
                time.sleep(0.1 * 2 ** attempt)
                continue
            if acked < last:
                raise RuntimeError(
                    "insert stream ended with sequence %d acknowledged, "
                    "want %d" % (acked, last))
        if errors:
            raise InsertRejected(errors)

    # --- Sample ---------------------------------------------------------

    def sample(self, table, num_samples, *, timeout_ms=0):
        """Samples `num_samples` items from `table`; returns Samples.

        Waits for the table's rate limiter up to timeout_ms (0 = the call's
        own deadline, timeout_s), then fails with DEADLINE_EXCEEDED as a
        grpc.RpcError. Samples are decoded by the table signature; a
        sampled item may repeat (uniform sampling is with replacement).
        """
        signature = self.signature(table)
        request = self._pb.SampleRequest(table=table, num_samples=num_samples,
                                         timeout_ms=timeout_ms, request_id=1)
        sampled = []
        ended = False
        for response in self._stub.SampleStream(
                iter([request]), timeout=self._timeout_s,
                metadata=self._metadata):
            sampled.extend(response.items)
            ended = ended or response.end_of_request
        if not ended or len(sampled) != num_samples:
            raise RuntimeError("sample stream ended with %d of %d items%s"
                               % (len(sampled), num_samples,
                                  "" if ended else ", no end_of_request"))
        names = [spec.name for spec in signature]
        samples = []
        for i, s in enumerate(sampled):
            columns = {}
            for c, tensor in enumerate(s.item.columns):
                name = names[c] if c < len(names) else "column_%d" % c
                columns[name] = decode_tensor(
                    tensor, where="items[%d].columns[%d] (%s)" % (i, c, name))
            samples.append(Sample(key=s.key, priority=s.priority,
                                  probability=s.probability,
                                  table_size=s.table_size,
                                  times_sampled=s.times_sampled,
                                  columns=columns, item=s.item))
        return samples


# --- Command line -------------------------------------------------------

def _print_info(info):
    print("shard %d: %d table%s" % (info.shard_index, len(info.tables),
                                    "" if len(info.tables) == 1 else "s"))
    for t in info.tables:
        print("table %s: size %d (max %s), %d bytes; inserts %d, samples %d, "
              "evictions %d" % (t.name, t.size, t.max_size or "unbounded",
                                t.bytes, t.inserts, t.samples, t.evictions))
        print("  sampler %s, remover %s" % (t.sampler, t.remover))
        print("  signature: %s" % (", ".join(spec_string(s)
                                             for s in t.signature)
                                   or "(none: unchecked)"))
        r = t.rate_limiter
        print("  rate limiter: min_size_to_sample %d, samples_per_insert %g, "
              "inserts %d, samples %d, blocked inserts %d, blocked samples %d"
              % (r.min_size_to_sample, r.samples_per_insert, r.inserts,
                 r.samples, r.blocked_inserts, r.blocked_samples))


def _json_value(value):
    """JSON-safe: non-finite floats become the strings "nan", "inf"."""
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _read_items(args):
    lines = list(args.items)
    if args.items_file:
        if args.items_file == "-":
            lines += sys.stdin.read().splitlines()
        else:
            with open(args.items_file, encoding="utf-8") as f:
                lines += f.read().splitlines()
    items = []
    for n, line in enumerate(lines):
        if line.strip():
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError("item %d is not JSON (%s): %s"
                                 % (n, e, line)) from None
    return items


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Items are JSON: an object {column: value} or a list of "
               "values in signature order; values are numbers, booleans "
               "or nested lists.")
    parser.add_argument("--replay", required=True, metavar="HOST:PORT",
                        help="address of the replay shard")
    parser.add_argument("--timeout_s", type=float, default=30.0,
                        help="deadline of each call")
    parser.add_argument("--token_file", default="",
                        help="file holding the bearer token to present")
    parser.add_argument("--proto_dir",
                        default=os.path.join(here, "..", "..", "proto"))
    commands = parser.add_subparsers(dest="command", required=True)
    info = commands.add_parser("info", help="sizes and counters of tables")
    info.add_argument("--table", default="", help="one table; default all")
    info.add_argument("--json", action="store_true",
                      help="print the InfoResponse as JSON")
    insert = commands.add_parser("insert", help="insert items")
    insert.add_argument("--table", required=True)
    insert.add_argument("--priority", type=float, default=1.0)
    insert.add_argument("--items_file", default="",
                        help="one JSON item per line; - = stdin")
    insert.add_argument("--writer_id", type=int, default=None,
                        help="default: random (a new writer)")
    insert.add_argument("--first_sequence", type=int, default=1)
    insert.add_argument("items", nargs="*", help="JSON items")
    sample = commands.add_parser(
        "sample", help="sample items; prints one JSON object per item")
    sample.add_argument("--table", required=True)
    sample.add_argument("--timeout_ms", type=int, default=0,
                        help="rate-limiter wait; 0 = --timeout_s")
    sample.add_argument("num_samples", type=int)
    args = parser.parse_args(argv)

    prog = os.path.basename(sys.argv[0])
    try:
        import grpc
    except ImportError as e:
        print("%s: %s under %s; install python3-grpcio and python3-grpc-tools"
              % (prog, e, sys.executable), file=sys.stderr)
        return 1
    token = None
    if args.token_file:
        with open(args.token_file, encoding="utf-8") as f:
            token = f.read().strip()
    try:
        client = ReplayClient(
            args.replay, timeout_s=args.timeout_s, token=token,
            proto_dir=args.proto_dir,
            writer_id=getattr(args, "writer_id", None),
            first_sequence=getattr(args, "first_sequence", 1))
        with client:
            if args.command == "info":
                response = client.info(args.table)
                if args.json:
                    from google.protobuf import json_format
                    print(json_format.MessageToJson(response))
                else:
                    _print_info(response)
            elif args.command == "insert":
                items = _read_items(args)
                done = client.insert(args.table, items, args.priority)
                print("inserted %d item%s into %s: writer %d, sequences %d..%d"
                      % (len(done), "" if len(done) == 1 else "s", args.table,
                         client.writer_id, done[0], done[-1]))
            else:
                for s in client.sample(args.table, args.num_samples,
                                       timeout_ms=args.timeout_ms):
                    print(json.dumps({
                        "key": s.key, "priority": s.priority,
                        "probability": s.probability,
                        "times_sampled": s.times_sampled,
                        "columns": {k: _json_value(v)
                                    for k, v in s.columns.items()}}))
    except grpc.RpcError as e:
        print("%s: %s: %s" % (prog, e.code().name, e.details()),
              file=sys.stderr)
        return 1
    except (InsertRejected, ValueError, OSError,
            shoal_stubs.StubError) as e:
        print("%s: %s" % (prog, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
