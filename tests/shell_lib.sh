# Shared by the shell tests (source it): test_begin NAME makes $T, a
# temporary directory removed on exit; ok counts and prints a check; fail
# prints why, then the first 4 kB of each non-empty $T/stdout, $T/stderr and
# $T/out (the last command's output), and exits 1. `ok` empties $T/stdout
# and $T/stderr (for tests that append to them), so a failure shows only its
# own command's output; $T/out stays readable after its check.
CHECKS=0

test_begin() {  # NAME
  T=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  trap 'rm -rf "$T"' EXIT
}

fail() {
  echo "FAIL: $*"
  local f
  for f in "$T/stdout" "$T/stderr" "$T/out"; do
    [[ -s $f ]] && { echo "--- ${f##*/}:"; head -c 4000 "$f"; echo; }
  done
  exit 1
}

ok() {
  CHECKS=$((CHECKS + 1))
  echo "ok   $*"
  : >"$T/stdout"
  : >"$T/stderr"
}
