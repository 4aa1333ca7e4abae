#!/usr/bin/env bash
# Style: clang-format (.clang-format at the root) over every C file of ours
# outside ext/ (which follows php-src). One check, one line.
set -u
cd "$(dirname "$0")/../.."
if out=$(make --no-print-directory format-check 2>&1); then
    echo "ok - clang-format: every relay, test, fuzz and bench C file is formatted"
    echo "1 passed, 0 failed"
else
    echo "$out" | head -40
    echo "not ok - clang-format: run 'make format'"
    echo "0 passed, 1 failed"
fi
