#!/usr/bin/env bash
# Independent check of applet::wire::omacp and applet::wire::wsp output.
#
# Takes the documents and the WSP push the current code emits (test `dump_for_oracle_script`
# in applet/tests/wbxml2xml.rs), then
#   1. decodes each document with libwbxml's `wbxml2xml -m 0` and compares with the expected XML;
#   2. wraps the push in UDP 9200 -> 2948 (text2pcap) and lets tshark's wsp/wbxml dissectors
#      decode it: content type, SEC=NETWPIN, the MAC text and the PROV parms must appear.
# Exit status 0 = all agree. Needs libwbxml2-utils, tshark (wireshark-common for text2pcap).
#
# Result when written (2026-11-27, libwbxml 0.11.8, tshark 4.0.17, Debian 12): all OK.
set -euo pipefail
cd "$(dirname "$0")/../../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cargo test -q -p applet --test wbxml2xml dump_for_oracle_script -- --nocapture 2>/dev/null \
  | awk '/^ORACLE /{print $2, $3}' > "$tmp/vectors"
[ -s "$tmp/vectors" ] || { echo "no vectors dumped" >&2; exit 1; }

P='<?xml version="1.0"?><!DOCTYPE wap-provisioningdoc PUBLIC "-//WAPFORUM//DTD PROV 1.0//EN" "http://www.wapforum.org/DTD/prov.dtd">'
declare -A expect
expect[doc54]="$P"'<wap-provisioningdoc><characteristic type="NAPDEF"><parm name="NAPID" value="NAP1"/><parm name="BEARER" value="GSM-GPRS"/><parm name="NAME" value="Test"/><parm name="NAP-ADDRESS" value="internet"/><parm name="NAP-ADDRTYPE" value="APN"/></characteristic></wap-provisioningdoc>'
expect[doc151]="$P"'<wap-provisioningdoc version="1.1"><characteristic type="NAPDEF"><parm name="NAPID" value="NAP1"/><parm name="BEARER" value="GSM-GPRS"/><parm name="NAME" value="MMS"/><parm name="NAP-ADDRESS" value="mms.example"/><parm name="NAP-ADDRTYPE" value="APN"/><characteristic type="NAPAUTHINFO"><parm name="AUTHTYPE" value="PAP"/><parm name="AUTHNAME" value="user"/><parm name="AUTHSECRET" value="pass"/></characteristic></characteristic><characteristic type="APPLICATION"><parm name="APPID" value="w4"/><parm name="TO-NAPID" value="NAP1"/><parm name="ADDR" value="http://mmsc.example/mms"/></characteristic></wap-provisioningdoc>'
expect[devkey]="$P"'<wap-provisioningdoc version="1.1"><characteristic type="VENDORCONFIG"><parm name="NAME" value="imeitrack"/><parm name="DEVKEY" value="00112233"/></characteristic></wap-provisioningdoc>'

fail=0
while read -r name hex; do
  [ "$name" = push151 ] && continue
  got=$(echo "$hex" | xxd -r -p | wbxml2xml -m 0 -o - - 2>/dev/null)
  if [ "$got" = "${expect[$name]}" ]; then echo "OK   wbxml2xml $name ($(( ${#hex} / 2 )) bytes)"
  else echo "FAIL wbxml2xml $name"; echo "  got:    $got"; echo "  expect: ${expect[$name]}"; fail=1; fi
done < "$tmp/vectors"

push=$(awk '$1=="push151"{print $2}' "$tmp/vectors")
echo "$push" | sed 's/../& /g; s/^/000000 /' > "$tmp/push.txt"
text2pcap -q -u 9200,2948 "$tmp/push.txt" "$tmp/push.pcap"
tshark -r "$tmp/push.pcap" -V 2>/dev/null > "$tmp/push.txt.out"
for needle in 'Content-Type: application/vnd.wap.connectivity-wbxml; SEC=NETWPIN; MAC=83C52EAFF1683711A6812DC1D6CBB5C3AD7BE698' \
              'SEC: NETWPIN (0x00)' 'Headers Length: 47' \
              'Public Identifier (known): -//WAPFORUM//DTD PROV 1.0//EN' \
              "name='NAP-ADDRESS'" "'mms.example'" "type='APPLICATION'" "name='ADDR'" "'http://mmsc.example/mms'"; do
  if grep -qF -- "$needle" "$tmp/push.txt.out"; then echo "OK   tshark has '$needle'"
  else echo "FAIL tshark lacks '$needle'"; fail=1; fi
done
if grep -qiE 'malformed|expert info' "$tmp/push.txt.out"; then echo "FAIL tshark reports a malformed packet"; fail=1; fi
exit $fail
