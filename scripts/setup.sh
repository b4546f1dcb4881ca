#!/usr/bin/env bash
# Installs everything pg_irt needs on a Debian 12 machine, as root. Every step is skipped when
# it is already done, so running it again costs seconds.
set -euo pipefail

PGRX_VERSION=0.18.1
PG_MAJOR=15
PG_CONFIG=/usr/bin/pg_config

log() { printf '[setup] %s\n' "$*"; }

apt_install() {
    apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "$@"
}

need_apt=()
for pkg in "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" libclang-dev clang sudo \
           "postgresql-$PG_MAJOR-cron" pkg-config libssl-dev openssl \
           chromium fonts-dejavu-core python3; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
    log "installing ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # DPkg::Lock::Timeout waits for dpkg's lock but not for the lists' lock another apt-get
    # update holds: wait for that one here, up to the same ten minutes.
    for attempt in $(seq 60); do
        apt-get -o DPkg::Lock::Timeout=600 update -qq && break
        ((attempt < 60)) || exit 1
        sleep 10
    done
    # The server headers must match the installed server exactly, or the extension is built
    # against the wrong ABI; fall back to whatever Debian serves when that version is gone.
    server_version=$(dpkg-query -W -f='${Version}' "postgresql-$PG_MAJOR" 2>/dev/null || true)
    pinned=()
    for pkg in "${need_apt[@]}"; do
        if [[ $pkg == "postgresql-server-dev-$PG_MAJOR" && -n $server_version ]]; then
            pinned+=("$pkg=$server_version")
        else
            pinned+=("$pkg")
        fi
    done
    apt_install "${pinned[@]}" || apt_install "${need_apt[@]}"
else
    log "apt packages present"
fi

if [[ "$(cargo pgrx --version 2>/dev/null)" == *"$PGRX_VERSION"* ]]; then
    log "cargo-pgrx $PGRX_VERSION present"
else
    log "installing cargo-pgrx $PGRX_VERSION (about 12 minutes)"
    cargo install --locked cargo-pgrx --version "=$PGRX_VERSION"
fi

if grep -qs "pg$PG_MAJOR = \"$PG_CONFIG\"" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
    log "cargo pgrx already initialised for pg$PG_MAJOR"
else
    cargo pgrx init --pg$PG_MAJOR "$PG_CONFIG"
fi
log "done"
