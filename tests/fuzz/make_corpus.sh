#!/usr/bin/env bash
# Rewrites the seed corpora in tests/fuzz/corpus/<fuzzer>/ (checked in):
# each fuzzer writes its own seeds when SHOAL_FUZZ_WRITE_SEEDS names a
# directory (see fuzz_seeds.h); config_fuzz takes two shipped configs.
# Files named regression-* (inputs that once found a bug) are kept.
#
#   tests/fuzz/make_corpus.sh BUILD_DIR   # a SHOAL_FUZZ=ON build, fuzzers built
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
cd "$(dirname "$0")"
for f in tensor_codec_fuzz replay_insert_fuzz replay_checkpoint_fuzz \
         parameter_chunks_fuzz prioritized_selector_fuzz env_step_fuzz; do
  mkdir -p "corpus/$f"
  find "corpus/$f" -type f ! -name 'regression-*' -delete
  SHOAL_FUZZ_WRITE_SEEDS="corpus/$f" "$build/tests/$f" >/dev/null
done
mkdir -p corpus/config_fuzz
find corpus/config_fuzz -type f ! -name 'regression-*' -delete
cp ../../deploy/configs/cartpole_dqn.yaml ../../deploy/configs/pendulum_sac.yaml \
   corpus/config_fuzz/
ls corpus/*
