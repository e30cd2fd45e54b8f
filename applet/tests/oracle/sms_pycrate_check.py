#!/usr/bin/env python3
"""Decode the TPDUs in sms_vectors.txt with pycrate and write sms_pycrate_decoded.txt.

Independent oracle for applet::wire::sms (see applet/tests/sms_oracle.rs, which compares
every field written here with our own parser). Uses pycrate 0.8.x:
  pip install pycrate
  python3 applet/tests/oracle/sms_pycrate_check.py

Decoding is pycrate's own (pycrate_mobile.TS23040_SMS for the TPDU structure,
pycrate_mobile.TS23038 for the GSM 7-bit text); nothing here re-implements a codec,
except that UCS2 octets pycrate hands back raw are decoded with Python's utf-16-be.
"""
import os
import sys
from binascii import unhexlify

from importlib.metadata import version
from pycrate_mobile.TS23040_SMS import SMS_SUBMIT, SMS_DELIVER, SMS_STATUS_REPORT
from pycrate_mobile.TS23038 import decode_7b

HERE = os.path.dirname(os.path.abspath(__file__))


def ts(e):
    """pycrate TP_SCTS-like element → 'YY-MM-DD hh:mm:ss ±q' (q = quarter hours)."""
    def two(name, hi, lo):
        return e[name][hi].get_val() * 10 + e[name][lo].get_val()
    y = two('Year', 'Y0', 'Y1')
    mo = two('Mon', 'M0', 'M1')
    d = two('Day', 'D0', 'D1')
    h = two('Hour', 'H0', 'H1')
    mi = two('Min', 'M0', 'M1')
    s = two('Sec', 'S0', 'S1')
    tz = e['TZ']
    q = tz['TZ0'].get_val() * 10 + tz['TZ1'].get_val()
    sign = '-' if tz['TZS'].get_val() else '+'
    return '%02d-%02d-%02d %02d:%02d:%02d %s%d' % (y, mo, d, h, mi, s, sign, q)


def present(m, name):
    """The non-transparent element called `name` (pycrate keeps one TP_VP per format)."""
    for e in m._content:
        if e._name == name and not e.get_trans():
            return e
    return None


def addr(out, a):
    out['addr.ton'] = a['Type'].get_val()
    out['addr.npi'] = a['NumberingPlan'].get_val()
    out['addr.len'] = a['Len'].get_val()
    num = a['Num']
    out['addr.num'] = num.decode()


def user_data(out, ud, dcs):
    out['udl'] = ud['UDL'].get_val()
    udh = ud['UDH']
    if udh.get_trans() is False or (udh.get_len() and not udh.get_trans()):
        ies = []
        for ie in udh['UDH']:
            ies.append('%02X:%s' % (ie['T'].get_val(), ie['V'].to_bytes().hex().upper()))
        out['udh'] = ','.join(ies)
    charset = dcs_charset(dcs)
    raw = ud['UD'].get_val()
    if charset == 0:
        out['text'] = ud['UD'].decode()
    elif charset == 2:
        out['text'] = raw.decode('utf-16-be')
    else:
        out['data'] = raw.hex().upper()


def dcs_charset(dcs):
    # pycrate's own interpretation of the DCS: 0 = GSM 7-bit, 1 = 8-bit, 2 = UCS2
    if 'Charset' in dcs._by_name:
        return dcs['Charset'].get_val()
    return 0


def decode(name, direction, data):
    fo = data[0]
    mti = fo & 3
    out = {}
    if direction == 'MO' and mti == 1:
        m = SMS_SUBMIT()
        m.from_bytes(data)
        out['mti'] = m['TP_MTI'].get_val()
        out['rp'] = m['TP_RP'].get_val()
        out['udhi'] = m['TP_UDHI'].get_val()
        out['srr'] = m['TP_SRR'].get_val()
        out['vpf'] = m['TP_VPF'].get_val()
        out['rd'] = m['TP_RD'].get_val()
        out['mr'] = m['TP_MR'].get_val()
        addr(out, m['TP_DA'])
        out['pid'] = m['TP_PID'].to_bytes().hex().upper()
        out['dcs'] = m['TP_DCS'].to_bytes().hex().upper()
        vpf = m['TP_VPF'].get_val()
        if vpf == 2:
            out['vp'] = present(m, 'TP_VP').to_bytes().hex().upper()
        elif vpf == 3:
            out['vp'] = ts(present(m, 'TP_VP'))
        elif vpf == 1:
            out['vp'] = present(m, 'TP_VPe').to_bytes().hex().upper()
        user_data(out, m['TP_UD'], m['TP_DCS'])
    elif direction == 'MT' and mti == 0:
        m = SMS_DELIVER()
        m.from_bytes(data)
        out['mti'] = m['TP_MTI'].get_val()
        out['rp'] = m['TP_RP'].get_val()
        out['udhi'] = m['TP_UDHI'].get_val()
        out['sri'] = m['TP_SRI'].get_val()
        out['lp'] = m['TP_LP'].get_val()
        out['mms'] = m['TP_MMS'].get_val()
        addr(out, m['TP_OA'])
        out['pid'] = m['TP_PID'].to_bytes().hex().upper()
        out['dcs'] = m['TP_DCS'].to_bytes().hex().upper()
        out['scts'] = ts(m['TP_SCTS'])
        user_data(out, m['TP_UD'], m['TP_DCS'])
    elif direction == 'MT' and mti == 2:
        m = SMS_STATUS_REPORT()
        m.from_bytes(data)
        out['mti'] = m['TP_MTI'].get_val()
        out['udhi'] = m['TP_UDHI'].get_val()
        out['srq'] = m['TP_SRQ'].get_val()
        out['lp'] = m['TP_LP'].get_val()
        out['mms'] = m['TP_MMS'].get_val()
        out['mr'] = m['TP_MR'].get_val()
        addr(out, m['TP_RA'])
        out['scts'] = ts(m['TP_SCTS'])
        out['dt'] = ts(m['TP_DT'])
        out['st'] = '%02X' % m['TP_ST'].get_val()
        pi = m['TP_PI']
        if pi.get_trans() is False and len(data) > m['TP_ST'].get_len() + 0:
            if not m['TP_PID'].get_trans():
                out['pid'] = m['TP_PID'].to_bytes().hex().upper()
            if not m['TP_DCS'].get_trans():
                out['dcs'] = m['TP_DCS'].to_bytes().hex().upper()
            if not m['TP_UD'].get_trans():
                user_data(out, m['TP_UD'], m['TP_DCS'])
    else:
        raise SystemExit('%s: unexpected MTI %d for %s' % (name, mti, direction))
    out['reencoded'] = m.to_bytes().hex().upper()
    return out


def main():
    vec = os.path.join(HERE, 'sms_vectors.txt')
    dst = os.path.join(HERE, 'sms_pycrate_decoded.txt')
    lines = [
        '# Fields of sms_vectors.txt as decoded by pycrate %s (pycrate_mobile.TS23040_SMS).'
        % version('pycrate'),
        '# Written by sms_pycrate_check.py; compared field by field in tests/sms_oracle.rs.',
        '# name key value',
    ]
    for line in open(vec, encoding='utf-8'):
        if line.startswith('#') or not line.strip():
            continue
        name, direction, hx = line.split()
        fields = decode(name, direction, unhexlify(hx))
        for k, v in fields.items():
            lines.append('%s %s %s' % (name, k, v))
    with open(dst, 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + '\n')
    print('wrote %s (%d lines)' % (dst, len(lines)))


if __name__ == '__main__':
    main()
