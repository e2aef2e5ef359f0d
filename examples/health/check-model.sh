#!/bin/sh
# A health check for `oxide agent --health-check`, run after each new model is activated:
#   oxide agent ... --health-check 'examples/health/check-model.sh "$OXIDE_MODEL_PATH"'
# Exit 0 = healthy; anything else makes the agent roll back (its output goes to the server).
# Replace it with a check of your own: load the model in your runtime, run a known input, compare.
set -eu
model=${1:-${OXIDE_MODEL_PATH:-}}
if [ -z "$model" ]; then
  echo "usage: $0 MODEL_FILE" >&2
  exit 2
fi
if [ ! -s "$model" ]; then
  echo "$model: missing or empty" >&2
  exit 1
fi
# The file must parse as its format: `oxide inspect` indexes every tensor of an ONNX or
# SafeTensors model and fails on a truncated or corrupt one.
oxide inspect "$model" >/dev/null
echo "$model: ok"
