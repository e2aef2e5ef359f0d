#!/usr/bin/env bash
# Apply speed on one core (issue #13: "keep applying at >= 400 MB/s on one core"):
#   bench/apply_speed.sh OXIDE_BIN PAIRS_DIR [RUNS]
# For every pair under PAIRS_DIR (v1.*/v2.* as in ../shared/corpus/dev, or base.*/target.* as
# bench/corpus/generate.py writes them; each model format of a pair separately): one
# `oxide diff`, then RUNS (default 5) runs of `taskset -c 0 oxide patch`, the whole process
# pinned to one core (its hashing thread included), output on the same file system. Prints per
# pair the target size, the patch size, the fastest run's wall time (process start, reading,
# decoding, writing, fsync and verification included) and target MB (1e6 bytes) per second of
# it; then the total of target bytes over the total of the fastest times.
set -euo pipefail
OXIDE=$(realpath "$1")
PAIRS=$2
RUNS=${3:-5}
command -v taskset >/dev/null || { echo "apply_speed: taskset (util-linux) not found" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
now_ns() { date +%s%N; }
printf '%-52s %12s %12s %9s %9s\n' pair target_bytes patch_bytes best_s MB/s
total_bytes=0
total_ns=0
for dir in "$PAIRS"/*/; do
  for base in "$dir"v1.* "$dir"base.*; do
    [[ -f "$base" ]] || continue
    ext=${base##*.}
    target="$dir"v2."$ext"
    [[ -f "$target" ]] || target="$dir"target."$ext"
    [[ -f "$target" ]] || continue
    name="$(basename "$dir")/$ext"
    "$OXIDE" diff "$base" "$target" -o "$WORK/p" --log-level error
    best=0
    for ((r = 0; r < RUNS; ++r)); do
      rm -f "$WORK/out"
      t0=$(now_ns)
      taskset -c 0 "$OXIDE" patch "$base" "$WORK/p" -o "$WORK/out" --log-level error
      t=$(($(now_ns) - t0))
      ((best == 0 || t < best)) && best=$t
    done
    cmp -s "$WORK/out" "$target" || { echo "apply_speed: $name: output differs" >&2; exit 1; }
    size=$(stat -c %s "$target")
    printf '%-52s %12d %12d %9.4f %9.1f\n' "$name" "$size" "$(stat -c %s "$WORK/p")" \
      "$(echo "$best / 1000000000" | bc -l)" "$(echo "$size * 1000 / $best" | bc -l)"
    total_bytes=$((total_bytes + size))
    total_ns=$((total_ns + best))
  done
done
printf 'total: %d target bytes in %.3f s: %.1f MB/s on one core\n' "$total_bytes" \
  "$(echo "$total_ns / 1000000000" | bc -l)" "$(echo "$total_bytes * 1000 / $total_ns" | bc -l)"
