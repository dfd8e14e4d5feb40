# sshd.sh — a throw-away OpenSSH sshd on a loopback port for the bank_sftp
# tests and benchmark (sourced by bash).
#
#   source .../plugins/bank_sftp/tests/sshd.sh
#   sshd_tmp_start DIR   # starts sshd; exports SSHD_PORT SSHD_FINGERPRINT
#                        # SSHD_ROOT (the chroot; files go in $SSHD_ROOT/upload)
#                        # SSHD_KEY_USER SSHD_KEY (private key file)
#                        # SSHD_PW_USER SSHD_PW (empty when not root)
#   sshd_tmp_stop
#
# As root: two throw-away users (one with a key, one with a password) are
# created if missing and chrooted into DIR/root with internal-sftp. As
# another user: sshd runs as that user, key authentication only, no chroot.

sshd_tmp_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

sshd_tmp_start() {
    local dir=$1
    mkdir -p "$dir"
    SSHD_DIR=$dir
    ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key" -C cd-test-host >/dev/null
    # A second host key, as real servers have: the client must pick ed25519
    # first, as OpenSSH does, or the pin taken from host_key.pub (and from
    # what `ssh` shows) would not match.
    ssh-keygen -q -t ecdsa -b 256 -N '' -f "$dir/host_key_ecdsa" -C cd-test-host >/dev/null
    # ECDSA: libssh2 1.10 signs RSA only with SHA-1, which OpenSSH 9 refuses
    ssh-keygen -q -t ecdsa -b 256 -m PEM -N "" -f "$dir/user_key" -C cd-test-user >/dev/null
    SSHD_KEY="$dir/user_key"
    SSHD_FINGERPRINT=$(ssh-keygen -l -E sha256 -f "$dir/host_key.pub" | awk '{print $2}')
    SSHD_PORT=$(sshd_tmp_free_port)
    mkdir -p "$dir/authorized_keys"
    local cfg="$dir/sshd_config"
    if [ "$(id -u)" = 0 ]; then
        SSHD_KEY_USER=cdsftpkey
        SSHD_PW_USER=cdsftppw
        # One random password for every test started on this machine (kept
        # root-only in /run until reboot): tests run side by side, and a
        # second start must not change the password under the first.
        local pwfile=/run/cd-sftp-test-pw
        if [ ! -s "$pwfile" ]; then
            local pwtmp
            pwtmp=$(mktemp /run/cd-sftp-test-pw.XXXXXX)
            echo "pw-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')" >"$pwtmp"
            ln "$pwtmp" "$pwfile" 2>/dev/null || true # the first one wins
            rm -f "$pwtmp"
        fi
        SSHD_PW=$(cat "$pwfile")
        local u
        for u in $SSHD_KEY_USER $SSHD_PW_USER; do
            id "$u" >/dev/null 2>&1 || useradd -r -M -d /nonexistent -s /usr/sbin/nologin "$u"
        done
        echo "$SSHD_PW_USER:$SSHD_PW" | chpasswd
        # useradd leaves "!" (locked), which sshd refuses even for keys
        usermod -p '*' "$SSHD_KEY_USER"
        # Every component of a chroot must be root-owned and not writable by
        # others, which /tmp (1777) is not: the chroot is a temp dir in /run.
        SSHD_ROOT=$(mktemp -d /run/cd-sftp-root.XXXXXX)
        SSHD_CHROOT_TMP=$SSHD_ROOT
        chmod 755 "$dir" "$dir/authorized_keys" # sshd reads the keys as the user
        mkdir -p "$SSHD_ROOT/upload" "$SSHD_ROOT/processed"
        chmod 755 "$SSHD_ROOT"
        chmod 777 "$SSHD_ROOT/upload" "$SSHD_ROOT/processed"
        mkdir -p /run/sshd
        SSHD_REMOTE_BASE=""
    else
        SSHD_KEY_USER=$(id -un)
        SSHD_PW_USER=
        SSHD_PW=
        SSHD_ROOT="$dir/root"
        mkdir -p "$SSHD_ROOT/upload" "$SSHD_ROOT/processed"
        SSHD_REMOTE_BASE="$SSHD_ROOT"
    fi
    cp "$dir/user_key.pub" "$dir/authorized_keys/$SSHD_KEY_USER"
    chmod 644 "$dir/authorized_keys/$SSHD_KEY_USER"
    cat >"$cfg" <<CFG
ListenAddress 127.0.0.1
Port $SSHD_PORT
HostKey $dir/host_key_ecdsa
HostKey $dir/host_key
PidFile $dir/sshd.pid
UsePAM no
StrictModes no
PermitRootLogin no
AuthorizedKeysFile $dir/authorized_keys/%u
PasswordAuthentication yes
KbdInteractiveAuthentication no
Subsystem sftp internal-sftp
CFG
    if [ "$(id -u)" = 0 ]; then
        cat >>"$cfg" <<CFG
Match User $SSHD_KEY_USER,$SSHD_PW_USER
    ChrootDirectory $SSHD_ROOT
    ForceCommand internal-sftp
CFG
    fi
    /usr/sbin/sshd -D -f "$cfg" -e -E "$dir/sshd.log" &
    SSHD_PID=$!
    local i
    for i in $(seq 1 50); do
        if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),1)' "$SSHD_PORT" 2>/dev/null; then
            export SSHD_PORT SSHD_FINGERPRINT SSHD_ROOT SSHD_KEY_USER SSHD_KEY SSHD_PW_USER SSHD_PW SSHD_REMOTE_BASE
            return 0
        fi
        sleep 0.1
    done
    echo "sshd did not start:" >&2
    cat "$dir/sshd.log" >&2
    return 1
}

sshd_tmp_stop() {
    [ -n "${SSHD_PID:-}" ] && kill "$SSHD_PID" 2>/dev/null && wait "$SSHD_PID" 2>/dev/null
    SSHD_PID=
    [ -n "${SSHD_CHROOT_TMP:-}" ] && rm -rf "$SSHD_CHROOT_TMP"
    SSHD_CHROOT_TMP=
}
