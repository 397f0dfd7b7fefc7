# Sourced by the tests in tests/install/: hermetic environment, failure and
# bounded waits. Set TEST_NAME before sourcing.

# Hermetic: no Hermes setting from the caller's environment applies.
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^HERMES_|^LD_LIBRARY_PATH$|^PKG_CONFIG_PATH$' || true)

fail() { echo "${TEST_NAME:-test}: $*" >&2; exit 1; }

# wait_for SECONDS COMMAND...: poll COMMAND until it succeeds, fail at the deadline.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || fail "timed out waiting for: $*"
		sleep 0.05
	done
}
