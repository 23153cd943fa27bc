#!/usr/bin/env bash
# The .proto files name their packages for other languages (go_package,
# java_package with java_multiple_files, csharp_namespace), so protoc needs
# no extra flags: generates Java and C# (built into protoc) and, where
# Debian's protoc-gen-go is installed, Go, and checks each lands in the
# package the options name.
#
#   proto_options_test.sh PROTO_DIR
set -euo pipefail
proto_dir=$1
out=$(mktemp -d "${TMPDIR:-/tmp}/shoal-protoc.XXXXXX")
trap 'rm -rf "$out"' EXIT
protos=("$proto_dir"/shoal/v1/*.proto)
for p in "${protos[@]}"; do
  for option in go_package java_package java_multiple_files csharp_namespace; do
    grep -q "^option $option = " "$p" ||
      { echo "proto_options_test: $p has no $option" >&2; exit 1; }
  done
done
mkdir -p "$out/java" "$out/csharp"
protoc -I"$proto_dir" --java_out="$out/java" --csharp_out="$out/csharp" \
  "${protos[@]}"
[ -f "$out/java/dev/shoal/v1/InsertRequest.java" ] ||
  { echo "proto_options_test: no dev/shoal/v1/InsertRequest.java" >&2; exit 1; }
grep -q '^namespace Shoal.V1 {' "$out/csharp/Replay.cs" ||
  { echo "proto_options_test: Replay.cs is not in namespace Shoal.V1" >&2; exit 1; }
generated="Java and C#"
if command -v protoc-gen-go >/dev/null; then
  mkdir -p "$out/go"
  protoc -I"$proto_dir" --go_out="$out/go" "${protos[@]}"
  [ -f "$out/go/shoal/gen/go/shoal/v1/replay.pb.go" ] ||
    { echo "proto_options_test: no Go code at the go_package path" >&2; exit 1; }
  grep -q '^package shoalv1' "$out/go/shoal/gen/go/shoal/v1/replay.pb.go"
  generated="Go, Java and C#"
fi
echo "proto_options_test: ${#protos[@]} protos generate $generated with no extra flags"
