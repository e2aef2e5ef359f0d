#!/usr/bin/env bash
# Encryption throughput: `oxide encrypt` and `oxide decrypt` on a 1 GiB random file, each run
# RUNS times (best-of-N; every run printed), with wall time, MB/s (plaintext bytes / wall time,
# 1 MB = 10^6 bytes) and peak RSS from /usr/bin/time. The times include reading the input and
# writing + fsyncing the output (what a user of the CLI waits for). `openssl speed` on 64 KiB
# blocks gives the raw AES-256-GCM ceiling of the same machine, and bench/enc_throughput (if
# built) the stream code's own speed in memory, without the disk.
# Usage: bench/encrypt_bench.sh [OXIDE_BIN] (env: OXIDE_BENCH_ENC_MB=1024, OXIDE_BENCH_RUNS=3)
set -euo pipefail
OXIDE=$(realpath "${1:-build/oxide}")
SIZE_MB=${OXIDE_BENCH_ENC_MB:-1024}
RUNS=${OXIDE_BENCH_RUNS:-3}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "# machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

head -c "$((SIZE_MB << 20))" /dev/urandom >"$WORK/model.bin"
bytes=$(stat -c %s "$WORK/model.bin")
"$OXIDE" enc-key generate -o "$WORK/k" >/dev/null

timed() {  # timed LABEL CMD...
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >/dev/null
  read -r secs rss_kb <"$WORK/time"
  awk -v l="$label" -v s="$secs" -v b="$bytes" -v r="$rss_kb" \
    'BEGIN { printf "%-8s %7.2f s  %7.0f MB/s  peak RSS %5.1f MiB\n", l, s, b / s / 1e6, r / 1024 }'
}

echo; echo "## oxide encrypt / decrypt, $bytes bytes, default 64 KiB chunks"
for i in $(seq "$RUNS"); do
  rm -f "$WORK/model.bin.enc" "$WORK/out"
  sync
  timed encrypt "$OXIDE" encrypt "$WORK/model.bin" --key "$WORK/k" -o "$WORK/model.bin.enc"
  timed decrypt "$OXIDE" decrypt "$WORK/model.bin.enc" --key "$WORK/k" -o "$WORK/out"
  cmp "$WORK/model.bin" "$WORK/out"
done
echo "round trips byte-identical (cmp)"
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

ENC_THROUGHPUT=$(dirname "$OXIDE")/bench/enc_throughput
if [[ -x "$ENC_THROUGHPUT" ]]; then
  echo; echo "## bench/enc_throughput $SIZE_MB (no disk; best of $RUNS)"
  for i in $(seq "$RUNS"); do "$ENC_THROUGHPUT" "$SIZE_MB"; done
fi

echo; echo "## openssl speed -evp aes-256-gcm -bytes 65536 -seconds 3 (raw cipher, one core)"
openssl speed -evp aes-256-gcm -bytes 65536 -seconds 3 2>/dev/null | tail -1
