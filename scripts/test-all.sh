#!/usr/bin/env bash
# Set up everything the tests need on a fresh Debian 12 machine, then run every test.
#
#   sudo ./scripts/test-all.sh        (as root it installs packages and starts services)
#
# What it does, in order:
#   1. installs the Debian packages the tests use (when run as root with apt-get);
#   2. starts pcscd (with the vsmartcard vpcd driver) if it is not running;
#   3. checks that the applet core links without `alloc` (nostd-probe) and, when the
#      target is installed or can be added, builds it for thumbv6m-none-eabi;
#   4. builds the fuzz targets when a nightly toolchain (or RUSTC_BOOTSTRAP) and
#      cargo-fuzz are available;
#   5. runs `cargo test --workspace`.
# With CI=true a test that needs a missing tool or service fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
LOG_DIR=${IMEITRACK_LOG_DIR:-$ROOT/target/test-logs}
mkdir -p "$LOG_DIR"

say() { printf '== %s\n' "$*"; }

# ---------------------------------------------------------------- 1. packages
PACKAGES=(
  pkg-config libpcsclite-dev pcscd vsmartcard-vpcd pcsc-tools   # PC/SC stack + virtual reader
  tshark                                                        # independent decoder (GSMTAP-SIM, CAT, SMS, WSP)
  libwbxml2-utils                                               # wbxml2xml / xml2wbxml (OMA CP)
  python3-venv                                                  # pycrate oracle venv
  postgresql                                                    # store tests on a real PostgreSQL (started per test run)
  kannel                                                        # a real third-party SMPP client (bearerbox, smsbox sendota)
  chromium                                                      # headless render check of the HTML scenario report
)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    say "system packages present"
  fi
else
  say "not root: skipping package installation (needs: ${PACKAGES[*]})"
fi

# ---------------------------------------------------------------- 2. services
start_pcscd() {
  if ! command -v pcscd >/dev/null; then say "pcscd not installed"; return 0; fi
  if [ -S /run/pcscd/pcscd.comm ] && pgrep -x pcscd >/dev/null; then say "pcscd already running"; return 0; fi
  if [ "$(id -u)" != 0 ]; then say "not root: cannot start pcscd"; return 0; fi
  mkdir -p /run/pcscd
  rm -f /run/pcscd/pcscd.comm /run/pcscd/pcscd.pid
  say "starting pcscd (log: $LOG_DIR/pcscd.log)"
  nohup pcscd -f >"$LOG_DIR/pcscd.log" 2>&1 &
  for _ in $(seq 100); do [ -S /run/pcscd/pcscd.comm ] && break; sleep 0.1; done
  [ -S /run/pcscd/pcscd.comm ] || { echo "pcscd did not come up"; cat "$LOG_DIR/pcscd.log"; exit 1; }
}
start_pcscd

# ---------------------------------------------------------------- 3. no heap, for real
say "nostd-probe: the applet links with no global allocator"
cargo check -q --manifest-path nostd-probe/Cargo.toml
if rustup target list --installed 2>/dev/null | grep -q thumbv6m-none-eabi \
   || timeout 120 rustup target add thumbv6m-none-eabi >/dev/null 2>&1; then
  say "building applet for thumbv6m-none-eabi (Cortex-M0)"
  cargo build -q --manifest-path nostd-probe/Cargo.toml --release --target thumbv6m-none-eabi
else
  say "thumbv6m-none-eabi not available: skipping the cross build"
fi

# ---------------------------------------------------------------- 4. fuzz targets build
if [ -d applet/fuzz ] && ! command -v cargo-fuzz >/dev/null && [ "${CI:-}" = true ]; then
  say "installing cargo-fuzz (about a minute)"
  cargo install -q --locked cargo-fuzz
fi
if [ -d applet/fuzz ] && command -v cargo-fuzz >/dev/null; then
  if cargo +nightly --version >/dev/null 2>&1; then
    say "building fuzz targets (nightly)"
    (cd applet && cargo +nightly fuzz build -O >/dev/null)
  else
    say "building fuzz targets (RUSTC_BOOTSTRAP=1)"
    (cd applet && RUSTC_BOOTSTRAP=1 cargo fuzz build -O >/dev/null)
  fi
else
  say "cargo-fuzz not installed: skipping the fuzz build (cargo install --locked cargo-fuzz)"
fi

# ---------------------------------------------------------------- 5. tests
say "cargo test --workspace"
cargo test --workspace
