# assert.sh — tiny assertions for the integration scripts (sourced by bash).
# Each failed assertion prints what was expected and what came, and the
# script ends with a non-zero status at the first failure.

cd_fail() {
    echo "FAIL: $*" >&2
    exit 1
}

assert_eq() { # expected actual message
    [ "$1" = "$2" ] || cd_fail "$3: expected [$1], got [$2]"
}

assert_contains() { # haystack needle message
    case "$1" in *"$2"*) ;; *) cd_fail "$3: [$2] not found in [$1]" ;; esac
}

assert_not_contains() { # haystack needle message
    case "$1" in *"$2"*) cd_fail "$3: [$2] must not appear in [$1]" ;; esac
}

# psql returning one unaligned, tuples-only value.
q() { psql -X -q -v ON_ERROR_STOP=1 -At -c "$1"; }

# Writes a minimal config for the build tree to $1.
cd_write_config() {
    cat >"$1" <<YAML
database:
  url: "$CD_DATABASE_URL"
plugins:
  dir: "${2:-$CD_BUILD_DIR/lib/connectord/plugins}"
YAML
}
