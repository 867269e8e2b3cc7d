#!/usr/bin/env bash
# Installs what `make test` needs beyond Python, Java and Maven, when it is missing:
#   - uv              (pip install --user uv)
#   - docker-compose  (Debian's 1.29 package; tests/test_compose.py runs `docker-compose config`)
#   - redis-server    (Debian's package; the gateway's shared rate-limit storage is tested on it)
# Idempotent and non-interactive: tools already present are left alone. Installing a Debian
# package needs root (apt-get); otherwise the script says what to run and fails.
set -euo pipefail

log() { printf 'ensure-tools: %s\n' "$*"; }
die() { printf 'ensure-tools: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------- uv
ensure_uv() {
    if command -v uv >/dev/null 2>&1; then
        log "uv: present ($(uv --version))"
        return
    fi
    command -v python3 >/dev/null 2>&1 || die "uv is missing and there is no python3 to install it with"
    local pip_args=(install --user --quiet --disable-pip-version-check)
    # Debian's python3 refuses even --user installs without this flag (PEP 668); ~/.local only.
    if python3 -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))'; then
        pip_args+=(--break-system-packages)
    fi
    log "uv: missing; running: python3 -m pip ${pip_args[*]} uv"
    python3 -m pip "${pip_args[@]}" uv \
        || die "could not install uv with pip; see https://docs.astral.sh/uv/getting-started/installation/"
    if command -v uv >/dev/null 2>&1; then
        log "uv: installed ($(uv --version))"
        return
    fi
    # Installed, but its directory is not on PATH: ~/.local/bin, or the interpreter's own scripts
    # directory when uv was already in that interpreter's site-packages.
    local dir
    for dir in "$(python3 -m site --user-base)/bin" "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"; do
        if [[ -x "$dir/uv" ]]; then
            log "uv: installed at $dir/uv, which is not on PATH; add it: export PATH=\"$dir:\$PATH\""
            return
        fi
    done
    die "pip reported success but no uv executable was found; try: python3 -m uv --version"
}

# ------------------------------------------------------------------------- Debian-packaged tools
APT_UPDATED=""
# ensure_apt_tool COMMAND PACKAGE: installs Debian's PACKAGE when COMMAND is not on PATH.
ensure_apt_tool() {
    local cmd=$1 pkg=$2
    if command -v "$cmd" >/dev/null 2>&1; then
        log "$cmd: present"
        return
    fi
    command -v apt-get >/dev/null 2>&1 || die "$cmd is missing and apt-get is not available; install Debian's $pkg yourself"
    if [[ "$(id -u)" -ne 0 ]]; then
        die "$cmd is missing; as root run: apt-get update -qq && apt-get install -y -qq --no-install-recommends $pkg"
    fi
    log "$cmd: missing; installing Debian's $pkg"
    export DEBIAN_FRONTEND=noninteractive
    if [[ -z "$APT_UPDATED" ]]; then
        apt-get update -qq
        APT_UPDATED=1
    fi
    # --no-install-recommends: docker-compose would otherwise pull in a whole Docker engine
    apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null
    command -v "$cmd" >/dev/null 2>&1 || die "apt-get installed $pkg but $cmd is not on PATH"
    log "$cmd: installed"
}

ensure_uv
ensure_apt_tool docker-compose docker-compose   # tests/test_compose.py validates compose.yaml with it
ensure_apt_tool redis-server redis-server       # the gateway's shared rate-limit storage is tested on it
