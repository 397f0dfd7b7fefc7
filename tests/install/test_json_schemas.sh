#!/usr/bin/env bash
# hermes-ctl's --json documents match the JSON schemas shipped in
# tools/schemas (installed to share/hermes/schemas), with 64-bit ids and
# nanosecond timestamps as strings: run hermesd, a bridge and a subscriber,
# take list, inspect, clients, bridges and uplink, validate each (the
# subscriber attached with a client name and instance, shown by both), check
# that the schemas reject an id written as a number; tail --format json
# lines (one tagged, one not) against the tail schema.
#   test_json_schemas.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
TEST_NAME="JSON schemas"
# shellcheck source=tests/install/common.sh
source "$(dirname "$0")/common.sh"
py=/usr/bin/python3
if ! "$py" -c 'import jsonschema' 2>/dev/null; then
	echo "python3-jsonschema is not installed: skipped"
	exit 77
fi
work=$(mktemp -d /tmp/hermes-schemas.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work" "/dev/shm/hermes.$bus"
}
bus=schemas-$$
trap cleanup EXIT
unset HERMES_APP_NAME HERMES_APP_INSTANCE
ctl=("$build/tools/hermes-ctl" --bus "$bus" --run-dir "$work")

"$build/shm/hermesd/hermesd" --bus "$bus" --run-dir "$work" --log-level error &
pids+=($!)
wait_for 10 test -S "$work/$bus.sock"
"$build/tcp-bridge/bridge/hermes-bridge" --bus "$bus" --listen 127.0.0.1:0 --allow-anonymous \
	--stats-dir "$work" --state-dir "$work" --log-level error &
pids+=($!)
wait_for 10 compgen -G "$work/hermes-bridge.$bus.*"
"${ctl[@]}" pub events hello
HERMES_APP_NAME=schema-tail HERMES_APP_INSTANCE=t1 "${ctl[@]}" tail events --count 1000 >/dev/null &
pids+=($!)
wait_for 10 bash -c "'$build/tools/hermes-ctl' --bus $bus --run-dir $work inspect events --json | grep -q '\"slot\"'"

"${ctl[@]}" pub events --tag 0x2a tagged
timeout 10 "${ctl[@]}" tail events --from earliest --count 2 --format json >"$work/tail.jsonl"

for doc in list inspect clients bridges uplink; do
	case $doc in
	inspect) "${ctl[@]}" inspect events --json ;;
	clients) "${ctl[@]}" clients --json ;;
	*) "${ctl[@]}" --stats-dir "$work" "$doc" --json ;;
	esac >"$work/$doc.json"
done

"$py" - "$src/tools/schemas" "$work" <<'PY'
import copy, json, sys
import jsonschema
schemas, work = sys.argv[1], sys.argv[2]
V = jsonschema.Draft202012Validator
for doc in ["list", "inspect", "clients", "bridges", "uplink"]:
    schema = json.load(open(f"{schemas}/hermes-ctl.{doc}-1.schema.json"))
    V.check_schema(schema)
    inst = json.load(open(f"{work}/{doc}.json"))
    V(schema).validate(inst)
    print(f"{doc}: valid against hermes-ctl.{doc}-1.schema.json")
# The ids are exact strings, and a number there is rejected.
lst = json.load(open(f"{work}/list.json"))
created = lst["rings"][0]["created_unix_ns"]
assert isinstance(created, str) and int(created) > 2**53, created
bad = copy.deepcopy(lst)
bad["rings"][0]["created_unix_ns"] = int(created)
schema = json.load(open(f"{schemas}/hermes-ctl.list-1.schema.json"))
assert not V(schema).is_valid(bad), "a numeric created_unix_ns passed the schema"
br = json.load(open(f"{work}/bridges.json"))
assert isinstance(br["bridges"][0]["bus_id"], str), br["bridges"][0]["bus_id"]
print("ids and timestamps are strings; numbers are rejected")
# The tail attached as schema-tail/t1: clients and inspect say so.
cl = json.load(open(f"{work}/clients.json"))
named = [c for c in cl["clients"] if c["client"] == "schema-tail"]
assert len(named) == 1 and named[0]["instance"] == "t1", cl["clients"]
ins = json.load(open(f"{work}/inspect.json"))
assert [(s["client"], s["instance"]) for s in ins["subscribers"]] == [("schema-tail", "t1")], ins
bad = copy.deepcopy(cl)
bad["clients"][0]["client"] = ""
schema = json.load(open(f"{schemas}/hermes-ctl.clients-1.schema.json"))
assert not V(schema).is_valid(bad), "an empty client name passed the schema"
print("client names and instances shown, empty names rejected")
schema = json.load(open(f"{schemas}/hermes-ctl.tail-1.schema.json"))
V.check_schema(schema)
lines = [json.loads(l) for l in open(f"{work}/tail.jsonl")]
assert [l["tag"] for l in lines] == [0, 42], lines
for l in lines:
    V(schema).validate(l)
print("tail: each line valid against hermes-ctl.tail-1.schema.json")
PY
echo "JSON schemas: ok"
