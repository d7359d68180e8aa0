#!/bin/sh
# make demo: start the bundled test Hub on loopback with the demo repos and run a short hfrun
# session that lists, stats and reads files, showing each command.
set -eu
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/hfshim-demo.XXXXXX)
FIXTURES=${HFS_FIXTURES:-$ROOT/build/fixtures}
python3 "$ROOT/tests/hub/fixtures.py" "$FIXTURES" >/dev/null
python3 "$ROOT/tests/hub/hub.py" --root "$FIXTURES" --log "$WORK/requests.jsonl" \
    --ready "$WORK/ready.json" &
HUB=$!
trap 'kill $HUB 2>/dev/null; wait $HUB 2>/dev/null; rm -rf "$WORK"' EXIT INT TERM
i=0
while [ ! -s "$WORK/ready.json" ]; do
    i=$((i + 1)); [ $i -gt 200 ] && { echo "test Hub did not start"; exit 1; }
    sleep 0.05
done
URL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hub"])' "$WORK/ready.json")
echo "== test Hub listening at $URL (request log: $WORK/requests.jsonl)"
run() {
    echo
    echo "\$ $*"
    "$@"
}
HFRUN="$ROOT/$BUILD/hfrun --endpoint $URL --cache-dir $WORK/cache"
run $HFRUN -- ls -l /hf/acme/tiny
run $HFRUN -- stat -c '%n: %s bytes, mode %A' /hf/acme/tiny/config.json
run $HFRUN -- cat /hf/acme/tiny/config.json
run $HFRUN -- sh -c 'cd /hf/acme/tiny/a/b && pwd && cat c/deep.txt'
run $HFRUN -- dd if=/hf/acme/tiny/weights/big.bin bs=1M skip=25 count=1 status=none of=/dev/null
run $HFRUN -m "$WORK/neuron-cache=buckets/acme/cache" -- find "$WORK/neuron-cache" -type f
run $HFRUN -m "$WORK/neuron-cache=buckets/acme/cache" -- sh -c "cd $WORK && ls -d neuron-cache && ls neuron-cache"
run $HFRUN --no-push -- sh -c 'echo "my notes" > /hf/acme/tiny/notes.txt && rm /hf/acme/tiny/empty.txt && ls /hf/acme/tiny'
run $HFRUN status
echo
echo "== what the shim asked the Hub for:"
python3 - "$WORK/requests.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print("  %-4s %-3s %-4s %8d bytes  %s%s" % (r["listener"], r["method"], r["status"], r["bytes"],
          r["path"], (" range=" + r["range"]) if r.get("range") else ""))
PY
echo
echo "== cache (huggingface_hub layout):"
find "$WORK/cache/hub" -maxdepth 3 | sed "s|$WORK/cache/|  |" | sort | head -20
