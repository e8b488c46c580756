#!/usr/bin/env bash
# Compares the dynamic symbols liboutpost.so defines with capi/exported_symbols.txt.
#   check_exports.sh LIB EXPECTED     (prints the diff and fails when they differ)
# After a deliberate ABI change: nm -D --defined-only LIB | awk '{print $3}' | sort -u
set -euo pipefail
lib=$1
expected=$2
actual=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^OUTPOST_1$' | sort -u)
if ! diff -u "$expected" <(echo "$actual"); then
  echo "liboutpost.so exports differ from $expected (an ABI change: update the list" \
       "and OUTPOST_ABI_VERSION if it is incompatible)" >&2
  exit 1
fi
echo "liboutpost.so exports the $(echo "$actual" | wc -l) symbols of $expected"
