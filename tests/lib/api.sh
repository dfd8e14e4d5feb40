# api.sh — talking to a running `connectord serve` over HTTP in tests
# (sourced by bash after pgtmp.sh, assert.sh and serve.sh).
#
#   api_plugins_dir DIR            copies pg_api.so, test_gen.so and a refused
#                                  no_magic.so into DIR (plugins.dir)
#   api_url NAME                   prints http://127.0.0.1:PORT of a started worker
#   api_wait_ready                 waits until GET /healthz answers
#   req METHOD PATH [BODY] [curl args...]
#                                  sets CODE (HTTP status) and BODY; a BODY
#                                  argument is sent as application/json
#   jq_ EXPR                       a Python expression over the JSON in $BODY
#                                  (`d` is the document): jq_ 'd["success"]'

api_plugins_dir() {
    mkdir -p "$1"
    cp "$CD_BUILD_DIR/lib/connectord/plugins/pg_api.so" "$CD_TESTPLUGINS/test_gen.so" \
        "$CD_TESTPLUGINS/no_magic.so" "$1/"
    chmod 755 "$1"/*.so
}

api_url() { # worker name -> its API base URL (serve.sh gives each worker a port)
    echo "http://127.0.0.1:${SERVE_PORT[$1]}"
}

api_wait_ready() {
    local i
    for i in $(seq 1 100); do
        curl -s -o /dev/null "$API/healthz" && return 0
        sleep 0.1
    done
    cd_fail "the API at $API did not answer"
}

req() {
    local method=$1 path=$2
    shift 2
    local args=()
    if [ $# -gt 0 ] && [ -z "$1" ]; then
        shift # no body; curl arguments follow
    elif [ $# -gt 0 ] && [ "${1:0:1}" != "-" ]; then
        args+=(-H 'Content-Type: application/json' --data-binary "$1")
        shift
    fi
    local out
    out=$(curl -s -S -X "$method" -w '\n%{http_code}' ${API_TOKEN:+-H "Authorization: Bearer $API_TOKEN"} \
        "${args[@]}" "$@" "$API$path") || cd_fail "curl $method $path failed"
    CODE=${out##*$'\n'}
    BODY=${out%$'\n'*}
}

jq_() {
    python3 -c 'import json, sys
d = json.loads(sys.argv[2])
v = eval(sys.argv[1])
print(json.dumps(v) if isinstance(v, (dict, list)) or v is None else v)' "$1" "$BODY"
}

# expect CODE [message]: the last request answered CODE.
expect() {
    [ "$CODE" = "$1" ] || cd_fail "${2:-request}: expected HTTP $1, got $CODE: $BODY"
}
