#!/usr/bin/env bash
# Cross-check the GSMTAP-SIM pcap export with osmocom pySim's pySim-trace.py,
# a decoder written independently of this project.
#
# Usage:
#   PYSIM_DIR=/path/to/pysim scripts/pysim-trace-check.sh [TRACE.apdu ...]
#
# Without arguments it checks tests/traces/registration-first-use.apdu and every
# tests/traces/library/*.apdu. For each trace it
#   1. exports a pcap with `imeitrack trace export --with-atr`,
#   2. runs `pySim-trace.py --no-suppress-select --no-suppress-status --show-raw-apdu
#      gsmtap-pyshark-pcap -f PCAP`,
#   3. fails if pySim-trace exits non-zero, prints a Python traceback, an ERROR log line
#      or "Unknown CLA/INS", does not reach "N APDUs parsed", parses a different number of
#      APDUs than the pcap holds (frames minus the T=0 61xx/6Cxx TPDUs pySim folds into
#      the next one), decodes an ICCID/IMSI other than `imeitrack trace decode` does,
#      or leaves an IE undecoded ("unknown_…") that is not a known pySim gap.
#
# Environment:
#   PYSIM_DIR      (required) a pySim checkout (source tree with pySim-trace.py)
#   PYSIM_PYTHON   python with pySim's dependencies + pyshark (default $PYSIM_DIR/.venv/bin/python)
#   IMEITRACK      imeitrack binary (default: cargo build -p scenarios --bin imeitrack)
#   OUT_DIR        where pcaps and pySim-trace outputs go (default: a new temp dir)
#   PYSIM_KNOWN_GAPS  space-separated "unknown_…" names pySim-trace is known not to decode
#                  (default: see KNOWN_GAPS below; docs/traces.md §8 "Checked with pySim-trace")
#
# pySim is not on PyPI: see docs/traces.md for how the checkout and venv were made.
set -euo pipefail

die() { echo "pysim-trace-check: $*" >&2; exit 2; }

[ -n "${PYSIM_DIR:-}" ] || die "set PYSIM_DIR to a pySim checkout (see docs/traces.md)"
[ -f "$PYSIM_DIR/pySim-trace.py" ] || die "$PYSIM_DIR/pySim-trace.py not found"
PYSIM_PYTHON=${PYSIM_PYTHON:-$PYSIM_DIR/.venv/bin/python}
[ -x "$PYSIM_PYTHON" ] || die "python '$PYSIM_PYTHON' not executable (set PYSIM_PYTHON)"
command -v tshark >/dev/null || die "tshark not found (pyshark needs it): apt-get install tshark"

# IEs pySim-trace (commit 597f1e0) has no decoder for, all checked by hand in docs/traces.md:
#   unknown_compr_tlv_ie_94  IMEI in TERMINAL RESPONSE (pySim's TerminalResponse lacks it)
#   unknown_compr_tlv_ie_a4  Timer identifier in TERMINAL RESPONSE (same)
#   unknown_ber_tlv_ie_d7    ENVELOPE (TIMER EXPIRATION) (pySim's EventCollection lacks D7)
KNOWN_GAPS=${PYSIM_KNOWN_GAPS:-unknown_compr_tlv_ie_94 unknown_compr_tlv_ie_a4 unknown_ber_tlv_ie_d7}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
if [ -z "${IMEITRACK:-}" ]; then
    cargo build -q -p scenarios --bin imeitrack
    IMEITRACK=$ROOT/target/debug/imeitrack
fi
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/pysim-trace-check.XXXXXX)}
mkdir -p "$OUT_DIR"

if [ $# -eq 0 ]; then
    set -- tests/traces/registration-first-use.apdu tests/traces/library/*.apdu
fi

failures=0
fail() { echo "FAIL $1: $2"; failures=$((failures + 1)); }

for trace in "$@"; do
    name=$(basename "$trace" .apdu)
    pcap=$OUT_DIR/$name.pcap
    out=$OUT_DIR/$name.pysim.txt
    dec=$OUT_DIR/$name.decode.txt

    if ! export_msg=$("$IMEITRACK" trace export "$trace" --pcap "$pcap" --with-atr 2>&1); then
        fail "$name" "imeitrack trace export failed: $export_msg"
        continue
    fi
    frames=$(printf '%s\n' "$export_msg" | sed -n 's/.*: \([0-9][0-9]*\) frame(s).*/\1/p' | head -n1)
    [ -n "$frames" ] || { fail "$name" "no frame count in: $export_msg"; continue; }
    if ! "$IMEITRACK" trace decode "$trace" >"$dec" 2>&1; then
        fail "$name" "imeitrack trace decode failed: $(head -n3 "$dec")"
        continue
    fi
    # TPDUs answered 61xx / 6Cxx: pySim's TpduFilter folds each into the next TPDU.
    folded=$(grep -cE ' => (61|6C) [0-9A-F]{2} ' "$dec" || true)
    expected=$((frames - folded))

    set +e
    (cd "$PYSIM_DIR" && NO_COLOR=1 "$PYSIM_PYTHON" pySim-trace.py --no-suppress-select \
        --no-suppress-status --show-raw-apdu gsmtap-pyshark-pcap -f "$pcap") >"$out" 2>&1
    rc=$?
    set -e

    problems=()
    [ "$rc" -eq 0 ] || problems+=("pySim-trace exited $rc")
    grep -q 'Traceback (most recent call last)' "$out" && problems+=("Python traceback")
    grep -qE '^(\x1b\[[0-9;]*m)?ERROR' "$out" && problems+=("ERROR log line")
    grep -q 'Unknown CLA=' "$out" && problems+=("Unknown CLA/INS")
    parsed=$(sed -n 's/^\([0-9][0-9]*\) APDUs parsed, stop iteration\..*/\1/p' "$out" | head -n1)
    if [ -z "$parsed" ]; then
        problems+=("no 'APDUs parsed' line")
    elif [ "$parsed" -ne "$expected" ]; then
        problems+=("pySim parsed $parsed APDUs+resets, expected $expected ($frames frames - $folded folded 61xx/6Cxx)")
    fi
    # ICCID / IMSI as both decoders read them, in order.
    ours_ids=$({ grep -oE '(ICCID|IMSI) [0-9]+' "$dec" || true; } | tr 'A-Z' 'a-z' | tr ' ' '=' | tr '\n' ' ')
    their_ids=$({ grep -oE '"(iccid|imsi)": "[0-9a-fA-F]+"' "$out" || true; } | tr -d '" ' | tr ':' '=' | tr '\n' ' ')
    [ "$ours_ids" = "$their_ids" ] || problems+=("ICCID/IMSI differ: imeitrack [$ours_ids] pySim [$their_ids]")
    # Undecoded IEs beyond the known pySim gaps.
    for u in $({ grep -oE 'unknown_[a-z_]+_[0-9a-f]+' "$out" || true; } | sort -u); do
        case " $KNOWN_GAPS " in
            *" $u "*) ;;
            *) problems+=("pySim could not decode $u (see $out)") ;;
        esac
    done

    gaps=$({ grep -oE 'unknown_[a-z_]+_[0-9a-f]+' "$out" || true; } | sort | uniq -c | awk '{printf "%s×%s ", $2, $1}')
    if [ ${#problems[@]} -eq 0 ]; then
        uniq_ids=$(printf '%s\n' $ours_ids | sort -u | tr '\n' ' ')
        echo "ok   $name: $frames frames, pySim parsed $parsed (APDUs+resets); same ${uniq_ids:-none}${gaps:+; pySim gaps: $gaps}"
    else
        for p in "${problems[@]}"; do fail "$name" "$p"; done
    fi
done

echo "outputs in $OUT_DIR"
if [ "$failures" -ne 0 ]; then
    echo "pysim-trace-check: $failures problem(s)"
    exit 1
fi
echo "pysim-trace-check: all $# trace(s) decoded by pySim-trace"
