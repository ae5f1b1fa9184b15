#!/bin/sh
# Host-side smoke test of the workloads: intact data must verify, corrupted
# data must be reported with exit status 1. Usage: check.sh BINDIR
set -eu
bin=${1:-bin}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "check: FAIL: $*" >&2; exit 1; }

for p in zero same text mixed random mix; do
	"$bin/memhog" --size 8 --pattern "$p" --passes 2 --quiet >/dev/null ||
		fail "memhog --pattern $p reported a mismatch on intact data"
done
if "$bin/memhog" --size 8 --self-test --quiet >"$tmp/out"; then
	fail "memhog --self-test exited 0: the verifier cannot fail"
fi
grep -q 'mismatches=1 ' "$tmp/out" || fail "memhog --self-test: $(cat "$tmp/out")"

"$bin/filecheck" write "$tmp/d" --files 3 --size 10001 --quiet >/dev/null
"$bin/filecheck" verify "$tmp/d" --files 3 --size 10001 --quiet >/dev/null ||
	fail "filecheck verify failed on intact files"
if "$bin/filecheck" verify "$tmp/d" --files 3 --size 10001 --self-test --quiet >/dev/null; then
	fail "filecheck --self-test exited 0"
fi
"$bin/filecheck" verify "$tmp/d" --files 3 --size 10001 --passes 3 --quiet >/dev/null ||
	fail "filecheck --passes 3 failed on intact files"
if "$bin/filecheck" verify "$tmp/d" --files 3 --size 10001 --passes 2 --self-test \
	--quiet >"$tmp/out"; then
	fail "filecheck --passes 2 --self-test exited 0"
fi
grep -q 'mismatches=2 ' "$tmp/out" || fail "filecheck --passes 2 --self-test: $(cat "$tmp/out")"
if "$bin/filecheck" verify "$tmp/d" --passes 0 --quiet 2>/dev/null; then
	fail "filecheck accepted --passes 0"
fi
printf 'X' | dd of="$tmp/d/kzt-file-0002" bs=1 seek=9000 conv=notrunc status=none
if "$bin/filecheck" verify "$tmp/d" --files 3 --size 10001 --quiet >"$tmp/out"; then
	fail "filecheck missed a byte changed on disk"
fi
grep -q 'first_bad=kzt-file-0002:8192' "$tmp/out" || fail "filecheck: $(cat "$tmp/out")"
echo "check: ok"
