#!/usr/bin/env bash
# Install what the test suite needs: the real backend servers (apt) and the
# project with its test extras (pip). Safe to run again: it only touches apt
# when a package is missing, and never leaves a system daemon running.
#
# The tests start their own servers on 127.0.0.1 in temp dirs, so the apt
# packages are only wanted for their binaries: system services must not start
# (they would hold ports 143/389/25/5432 and are of no use here).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(dovecot-imapd dovecot-lmtpd dovecot-ldap dovecot-sieve dovecot-managesieved slapd ldap-utils postfix postgresql
    # the real EWS clients the client tests drive headless: DavMail (Java) and
    # evolution-ews under evolution-data-server, scripted through python3-gi
    davmail evolution-ews evolution-data-server python3-gi gir1.2-edataserver-1.2
    gir1.2-ecal-2.0 gir1.2-ebook-1.2 gir1.2-camel-1.2 dbus
    # the headless browser that opens `exgate decode --html` reports (tests/unit/test_capture_html.py),
    # and tshark, which decrypts TLS captures for `exgate decode --keylog` (tests/unit/test_capture_tls.py)
    chromium chromium-driver tshark
    # libmspack's OAB decompressor: an independent reader of our OAB files (tests/unit/test_oab_libmspack.py)
    libmspack0)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
to_install=("${APT_PACKAGES[@]}")
# The test command says `python`; Debian only has python3 unless told.
if ! command -v python >/dev/null; then
    missing+=(python-is-python3)
    to_install+=(python-is-python3)
fi

if [ "${#missing[@]}" -gt 0 ] || [ "${EXGATE_FORCE_APT:-}" = 1 ]; then
    echo "install.sh: apt-get install ${missing[*]:-(forced)}"
    # Answer the packages' questions up front so nothing prompts:
    # no slapd database and no postfix mail setup (tests bring their own).
    as_root debconf-set-selections <<'EOF'
slapd slapd/no_configuration boolean true
postfix postfix/main_mailer_type select No configuration
wireshark-common wireshark-common/install-setuid boolean false
EOF
    # A policy-rc.d that answers 101 keeps postinst scripts from starting
    # daemons (invoke-rc.d and deb-systemd-invoke both honour it). Only ours
    # is removed afterwards; a pre-existing one (Docker images) stays.
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
        as_root chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    cleanup() { if [ "$made_policy" = 1 ]; then as_root rm -f /usr/sbin/policy-rc.d; fi; }
    trap cleanup EXIT
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${to_install[@]}"
    cleanup
    trap - EXIT
fi

# Stop system instances that a postinst (or an earlier boot) started anyway.
# Only the distribution's own pid files are looked at, never process names,
# so servers other jobs started in temp dirs are left alone.
stop_system_daemon() {
    local unit="$1" pidfile="$2" sig="${3:-TERM}" pid
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ] \
        && systemctl is-active --quiet "$unit" 2>/dev/null; then
        echo "install.sh: stopping system $unit"
        as_root systemctl stop "$unit" || true
    fi
    if [ -r "$pidfile" ]; then
        pid="$(head -n1 "$pidfile" | tr -dc 0-9)"
        if [ -n "$pid" ] && as_root kill -0 "$pid" 2>/dev/null; then
            echo "install.sh: stopping system $unit (pid $pid)"
            as_root kill -"$sig" "$pid" || true
            for _ in $(seq 100); do as_root kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        fi
    fi
}
stop_system_daemon slapd /run/slapd/slapd.pid
stop_system_daemon dovecot /run/dovecot/master.pid
stop_system_daemon postfix /var/spool/postfix/pid/master.pid
for pidfile in /var/lib/postgresql/*/main/postmaster.pid; do
    [ -e "$pidfile" ] || continue
    # SIGINT is postgres's fast shutdown (no waiting for clients).
    stop_system_daemon postgresql "$pidfile" INT
done

# The interpreter's own pip; PEP 668 distro Pythons need the override outside a venv.
if python - <<'EOF'
import os, sys, sysconfig
managed = os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))
sys.exit(0 if managed and sys.prefix == sys.base_prefix else 1)
EOF
then
    export PIP_BREAK_SYSTEM_PACKAGES=1
fi
python -m pip install --disable-pip-version-check --root-user-action=ignore -q -e '.[test]'
