# silent_dns.sh — runs a command with a name server that never answers.
#
# A UDP socket on 127.0.0.9:53 reads queries and never replies, and a
# resolv.conf bind-mounted in a mount namespace of the command alone points
# glibc at it with a retry budget of 30 s x 3. Needs root (unshare -m).
#
#   silent_dns_usable || skip
#   silent_dns_run OUTFILE CMD ARGS...   # stdout to OUTFILE; sets DNS_TOOK (s)
#   silent_dns_assert_bounded LIMIT_S    # fails when the command took longer

silent_dns_usable() { [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; }

silent_dns_run() {
    local out=$1
    shift
    local ready="$CD_TEST_TMP/dns.ready" conf="$CD_TEST_TMP/resolv.conf"
    rm -f "$ready"
    python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.9", 53))
open(sys.argv[1], "w").close(); time.sleep(300)' "$ready" &
    local dns_pid=$! i
    for i in $(seq 100); do [ -e "$ready" ] && break; sleep 0.1; done
    [ -e "$ready" ] || { kill "$dns_pid" 2>/dev/null; cd_fail "the silent name server did not start"; }
    printf 'nameserver 127.0.0.9\noptions timeout:30 attempts:3\n' >"$conf"
    local t0
    t0=$(date +%s.%N)
    unshare -m sh -c 'conf=$1; shift; mount --bind "$conf" /etc/resolv.conf && exec "$@"' \
        sh "$conf" "$@" >"$out" 2>/dev/null || true
    DNS_TOOK=$(python3 -c 'import sys, time; print("%.1f" % (time.time() - float(sys.argv[1])))' "$t0")
    kill "$dns_pid" 2>/dev/null || true
    wait "$dns_pid" 2>/dev/null || true
}

silent_dns_assert_bounded() {
    python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' \
        "$DNS_TOOK" "$1" ||
        cd_fail "the run took $DNS_TOOK s (limit $1 s; the resolver alone would wait 90 s)"
}
