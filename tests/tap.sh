# tests/tap.sh: TAP helpers for the shell tests. Source it.
tap_n=0
tap_failed=0
ok () {
  tap_n=$((tap_n + 1))
  echo "ok $tap_n - $*"
}
not_ok () {
  tap_n=$((tap_n + 1))
  tap_failed=$((tap_failed + 1))
  echo "not ok $tap_n - $*"
}
# check DESCRIPTION COMMAND...: ok when the command succeeds
check () {
  description=$1
  shift
  if "$@"; then ok "$description"; else not_ok "$description"; fi
}
tap_done () {
  echo "1..$tap_n"
  [ "$tap_failed" -eq 0 ]
}
