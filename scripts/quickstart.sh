#!/usr/bin/env bash
# ward's main job in one command, on benign reference images: build ward, make a bank from one
# known photo, then hash and match a folder of edited copies and the eight rotations/flips.
# Everything lands in a temporary folder; nothing outside it is written.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${WARD_SHARED:-$root/../shared}
images="$shared/reference/pdq/images"
[ -d "$images" ] || { echo "quickstart: no reference images at $images (set WARD_SHARED)" >&2; exit 2; }
cargo build --release -q -p ward --manifest-path "$root/Cargo.toml"
ward="$root/target/release/ward"
work=$(mktemp -d)
export WARD_DB="$work/ward.db"
echo "== a bank of known media (database: $WARD_DB)"
"$ward" bank create demo --label demo-known-photo --source "ward quickstart"
"$ward" bank add demo "$images/bridge-mods/aaa-orig.jpg"
"$ward" bank list
echo
echo "== hash a folder of uploads"
"$ward" hash "$images/bridge-mods"
echo
echo "== match them: path,bank,entry,distance,signal,via,labels"
"$ward" match "$images/bridge-mods"
echo
echo "== rotated and mirrored uploads match with --dihedral"
"$ward" match --dihedral "$images/reg-test-input/dih"
echo
echo "== an unrelated photo does not match (exit 0 under --fail-on-match)"
"$ward" match --fail-on-match "$images/reg-test-input/labelme-subset/q0122.jpg" && echo "no match"
