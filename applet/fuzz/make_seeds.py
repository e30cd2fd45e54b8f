#!/usr/bin/env python3
"""Write the seed corpora under applet/fuzz/seeds/<target>/ from the unit-test vectors.

Every vector is copied from (or built exactly like) a named unit test or spec digest
section, so the fuzzers start from inputs that pass every check. Run from anywhere:

    python3 applet/fuzz/make_seeds.py

Needs Python 3 only; the registration MACs use `cryptography` (AES-CMAC, RFC 4493) when it
is installed, and the xml2wbxml seeds need libwbxml2-utils; missing tools skip those seeds.
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(HERE, "seeds")


def h(s):
    return bytes.fromhex("".join(s.split()))


def write(target, name, data):
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- registration
# Worked example of docs/registration.md §6 (registration.rs `worked_example`), key below.
EXAMPLE_KEY = h("00112233445566778899AABBCCDDEEFF")
REG_EXAMPLE = h("""494D5452 01 12 02 03
    98 94 00 01 21 43 65 87 09 F1
    08 09 10 10 10 32 54 76 98
    00 00 00 00 2A
    4A 09 51 24 30 32 57 81
    43 09 51 24 30 32 57 01 F1
    3A 25 90 09 10 67 41 18
    8C 0E 88 31 21 A9 EB 33""")


def cmac8(key, msg):
    from cryptography.hazmat.primitives.cmac import CMAC
    from cryptography.hazmat.primitives.ciphers import algorithms
    c = CMAC(algorithms.AES(key))
    c.update(msg)
    return c.finalize()[:8]


def registration():
    write("registration", "worked_example", REG_EXAMPLE)
    head = h("494D5452 01 12")
    iccid = h("98 94 00 01 21 43 65 87 09 F1")
    imsi = h("08 09 10 10 10 32 54 76 98")
    imei_check = h("4A 09 51 24 30 32 57 81")  # 490154203237518 (03-imei.md §3)
    imei_spare = h("4A 09 51 24 30 32 57 01")  # same, digit 15 = spare 0
    imeisv = h("43 09 51 24 30 32 57 01 F1")
    prev = h("3A 25 90 09 10 67 41 18")  # 352099001761481 (03-imei.md §2)
    variants = {
        # registration.rs `minimal_first_use_with_spare_digit`: event 01, flags 04.
        "first_use_spare": (0x01, 0x04, imei_spare, b""),
        "first_use_imeisv": (0x01, 0x01, imei_check, imeisv),
        "changed_prev_only": (0x02, 0x02, imei_check, prev),
        "retry_counter_max": (0x03, 0x00, imei_check, b""),
    }
    try:
        cmac8(EXAMPLE_KEY, b"")
    except ImportError:
        print("cryptography not installed: only the worked example", file=sys.stderr)
        return
    for name, (event, flags, imei, extra) in variants.items():
        counter = b"\xff" * 5 if name == "retry_counter_max" else h("00 00 00 00 2A")
        signed = head + bytes([event, flags]) + iccid + imsi + counter + imei + extra
        write("registration", name, signed + cmac8(EXAMPLE_KEY, signed))


# ---------------------------------------------------------------- gsmtap_pcap
# 08-gsmtap-pcap.md §2, gsmtap.rs `FETCH_PCAP`: one GSMTAP-SIM record, little-endian µs.
FETCH_PCAP = h("""
    D4 C3 B2 A1 02 00 04 00 00 00 00 00 00 00 00 00 FF FF 00 00 01 00 00 00
    00 F1 53 65 00 00 00 00 4C 00 00 00 4C 00 00 00
    00 00 00 00 00 00 00 00 00 00 00 00 08 00
    45 00 00 3E 00 00 00 00 40 11 7C AD 7F 00 00 01 7F 00 00 01
    12 79 12 79 00 2A 00 00
    02 04 04 00 00 00 00 00 00 00 00 00 00 00 00 00
    80 12 00 00 0B D0 09 81 03 01 26 01 82 02 81 82 90 00""")


def gsmtap():
    write("gsmtap_pcap", "fetch_pcap", FETCH_PCAP)
    glob, rec = FETCH_PCAP[:24], FETCH_PCAP[24:]
    frame = rec[16:]
    # gsmtap.rs `gsmtap_sim_in_frame` test: an Ethernet non-IP frame between two records.
    other = h("01 00 00 00 00 00 00 00 06 00 00 00 06 00 00 00 FF FF FF FF FF FF")
    write("gsmtap_pcap", "three_records", glob + rec + other + rec)
    # Same file, big-endian nanosecond magic (pcap format: the magic selects both).
    g = struct.unpack("<IHHiIII", glob)
    be_glob = struct.pack(">IHHiIII", 0xA1B23C4D, *g[1:])
    r = struct.unpack("<IIII", rec[:16])
    write("gsmtap_pcap", "fetch_pcap_be_nano", be_glob + struct.pack(">IIII", *r) + frame)
    # Raw IPv4 link type (LINKTYPE_RAW 101): the frame without its Ethernet header.
    raw_glob = struct.pack("<IHHiIII", *g[:6], 101)
    ip = frame[14:]
    write("gsmtap_pcap", "fetch_pcap_raw_ipv4",
          raw_glob + struct.pack("<IIII", r[0], r[1], len(ip), len(ip)) + ip)
    # gsmtap.rs `snapped_frame_is_not_gsmtap_sim`: orig_len 128 > incl_len.
    snapped = bytearray(FETCH_PCAP)
    snapped[36] = 0x80
    write("gsmtap_pcap", "snapped", bytes(snapped))
    # The GSMTAP packet and the APDU exchange on their own.
    packet = frame[14 + 20 + 8:]
    write("gsmtap_pcap", "gsmtap_packet", packet)
    write("gsmtap_pcap", "apdu_exchange", packet[16:])
    # gsmtap.rs `gsmtap_header_checks`: a 20-byte header (hdr_len 5).
    write("gsmtap_pcap", "gsmtap_hdr_len5",
          h("02 05 04 00 00 00 00 00 00 00 00 00 00 00 00 00 EE EE EE EE AA"))


# ---------------------------------------------------------------- wbxml
# wsp.rs / encode.rs tests: DOC54 (research tools §5, xml2wbxml output) and DOC151
# (06-oma-cp.md §4, xml2wbxml -n output).
DOC54 = h("030b6a0045c65501871106034e4150310001871006ab018707060354657374000187080603696e7465726e6574000187090689010101")
DOC151 = h("""03 0B 6A 00 C5 45 03 31 2E 31 00 01 C6 55 01
    87 11 06 03 4E 41 50 31 00 01 87 10 06 AB 01 87 07 06 03 4D 4D 53 00 01
    87 08 06 03 6D 6D 73 2E 65 78 61 6D 70 6C 65 00 01 87 09 06 89 01
    C6 5A 01 87 0C 06 9A 01 87 0D 06 03 75 73 65 72 00 01 87 0E 06 03 70 61 73 73 00 01 01 01
    C6 00 01 55 01 87 36 00 00 06 03 77 34 00 01 87 22 06 03 4E 41 50 31 00 01
    87 00 01 34 00 00 06 03 68 74 74 70 3A 2F 2F 6D 6D 73 63 2E 65 78 61 6D 70 6C 65 2F 6D 6D 73 00 01
    01 01""")


def wbxml():
    write("wbxml", "doc54", DOC54)
    write("wbxml", "doc151", DOC151)
    # decode.rs `other_constructs`: string table, literal attribute, entity, opaque,
    # page-1 tag, whitespace content, PIs.
    write("wbxml", "other_constructs", h("""03 0B 6A 09 6E 61 6D 65 00 0A 20 20 00 45 83 05
        00 01 C6 00 00 55 01 87 04 00 03 61 00 06 02 81 69 C3 02 62 63 01
        03 20 0A 00 43 05 03 78 00 01 C7 05 03 7A 00 01 01 01 01 43 05 01"""))
    # decode.rs: empty characteristic; bare root; unknown public id 01.
    write("wbxml", "empty_characteristic", h("03 0B 6A 00 45 86 56 01 01"))
    write("wbxml", "bare_root", h("03 0B 6A 00 05"))
    write("wbxml", "public_id_unknown", h("03 01 6A 00 05"))
    # encode.rs: a characteristic with a bare type start and an inline value.
    write("wbxml", "bare_type_inline", h("03 0B 6A 00 45 86 56 01 86 50 03 58 00 01 01"))
    # mod.rs `literal_public_id_and_v10`: WBXML 1.0, literal public id, then a bare root.
    pid = b"-//WAPFORUM//DTD PROV 1.0//EN"
    write("wbxml", "literal_public_id_v10", bytes([0, 0, 0, len(pid) + 1]) + pid + b"\0" + b"\x05")
    # xml2wbxml (libwbxml) outputs of seeds/prov-sample.xml: default, -n, -k (keeps
    # whitespace text); they split "Example APN" into STR_I + token.
    xml = os.path.join(SEEDS, "prov-sample.xml")
    if shutil.which("xml2wbxml") is None:
        print("xml2wbxml not installed: skipping its seeds", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for name, flags in [("xml2wbxml", []), ("xml2wbxml_n", ["-n"]), ("xml2wbxml_k", ["-k"])]:
            out = os.path.join(tmp, name)
            subprocess.run(["xml2wbxml", *flags, "-o", out, xml], check=True,
                           stdout=subprocess.DEVNULL)
            with open(out, "rb") as f:
                write("wbxml", name, f.read())


# ---------------------------------------------------------------- wsp_push
def wsp():
    # wsp.rs `push_201`: the NETWPIN push of 06-oma-cp.md §4.
    write("wsp_push", "push_201_netwpin", h("01 06 2F 1F 2D B6 91 80 92")
          + b"83C52EAFF1683711A6812DC1D6CBB5C3AD7BE698\0" + DOC151)
    # wsp.rs `kannel_sendota_userpin` (research §6).
    write("wsp_push", "kannel_userpin", h("01 06 2F 1F 2D B6 91 81 92")
          + b"090226FDB2BF907302D6FF8FBD098CDA69F00887\0" + DOC54)
    # wsp.rs `short_form`.
    write("wsp_push", "short_form", h("01 06 01 B6 03 0B 6A 00"))
    # uintvar examples of wsp.rs `uintvar_vectors` (WAP-230 §8.1.2).
    write("wsp_push", "uintvar_max", h("8F FF FF FF 7F"))
    write("wsp_push", "uintvar_0x4000", h("81 80 00"))


# ---------------------------------------------------------------- apdu / atr
# 02-cat.md §9 worked exchange (tshark-verified): command APDUs and response data ‖ SW.
CAT_APDUS = {
    "terminal_profile": "80 10 00 00 08 23 01 29 42 11 00 00 07",
    "fetch": "80 12 00 00 0B",
    "terminal_response_imei": "80 14 00 00 16 81 03 01 26 01 82 02 82 81 83 01 00 14 08 4A 09 51 24 30 32 57 81",
    "terminal_response_rp_error": "80 14 00 00 0D 81 03 01 13 00 82 02 82 81 83 02 35 29",
    "envelope_location": "80 C2 00 00 15 D6 13 99 01 03 82 02 82 81 9B 01 00 93 07 00 F1 10 00 01 00 02",
    "envelope_timer": "80 C2 00 00 0E D7 0C 82 02 82 81 A4 01 01 A5 03 00 03 00",
}


def apdu():
    for name, hx in CAT_APDUS.items():
        write("apdu_command", name, h(hx))
    # ISO/IEC 7816-4 §5.1 length forms (apdu.rs CommandApdu table): case 2 short Le 00,
    # case 4 short, extended case 2 / 3 / 4.
    write("apdu_command", "case2_le256", h("00 B0 00 00 00"))
    write("apdu_command", "case4_short", h("00 A4 04 00 02 3F 00 00"))
    write("apdu_command", "case2_ext", h("00 B0 00 00 00 01 00"))
    write("apdu_command", "case3_ext", h("00 D6 00 00 00 00 02 AA BB"))
    write("apdu_command", "case4_ext", h("00 A4 04 00 00 00 02 3F 00 00 00"))
    write("apdu_response", "fetch_response", h("D0 09 81 03 01 26 01 82 02 81 82 90 00"))
    write("apdu_response", "sw_910b", h("91 0B"))
    write("apdu_response", "sw_6a82", h("6A 82"))
    # 01-apdu.md §4: sysmoUSIM-SJS1 ATR (T=0 + T=15 global TA, TCK) and `3B 02 14 50`
    # (no TD1, T=0 only, no TCK); 3B 95 … (TA1, TD1 T=1 … as listed there).
    write("atr", "sysmousim", h("3B 9F 96 80 1F C7 80 31 A0 73 BE 21 13 67 43 20 07 18 00 00 01 A5"))
    write("atr", "t0_only", h("3B 02 14 50"))
    write("atr", "spec_3b95", h("3B 95 13 81 01 80 73 FF 01 00 0B"))


# ---------------------------------------------------------------- tlv / cat
# 02-cat.md §9 (tshark-decoded): proactive commands, TERMINAL RESPONSE data, ENVELOPEs.
PROACTIVE = {
    "pli_imei": "D0 09 81 03 01 26 01 82 02 81 82",
    "send_sms": """D0 30 81 03 01 13 00 82 02 81 83
        8B 25 01 00 0C 91 44 77 00 09 10 32 00 04 18
        49 54 01 4A 09 51 24 30 32 57 81 00 00 00 00 01 11 22 33 44 55 66 77 88""",
    "set_up_event_list": "D0 0C 81 03 01 05 00 82 02 81 82 99 01 03",
    "poll_interval": "D0 0D 81 03 01 03 00 82 02 81 82 84 02 01 1E",
    "timer_start": "D0 11 81 03 01 27 00 82 02 81 82 A4 01 01 A5 03 00 03 00",
    "more_time": "D0 09 81 03 01 02 00 82 02 81 82",
    "display_text": "D0 11 81 03 01 21 81 82 02 81 02 8D 06 04 48 65 6C 6C 6F",
    "pli_imeisv": "D0 09 81 03 01 26 08 82 02 81 82",
}
TERMINAL_RESPONSES = {
    "imei": "81 03 01 26 01 82 02 82 81 83 01 00 14 08 4A 09 51 24 30 32 57 81",
    "sms_sent": "81 03 01 13 00 82 02 82 81 83 01 00",
    "rp_error": "81 03 01 13 00 82 02 82 81 83 02 35 29",
    "imeisv": "81 03 01 26 08 82 02 82 81 83 01 00 62 09 43 09 51 24 30 32 57 01 F1",
}
ENVELOPES = {
    "location_status": "D6 13 99 01 03 82 02 82 81 9B 01 00 93 07 00 F1 10 00 01 00 02",
    "timer_expiration": "D7 0C 82 02 82 81 A4 01 01 A5 03 00 03 00",
    # 04-sms.md §5: SMS-PP data download (pysim OTA vector, UDL corrected).
    "sms_pp_download": """D1 45 82 02 83 81 86 07 91 44 77 00 09 00 00
        8B 36 40 08 81 21 43 65 87 7F F6 22 70 52 00 00 00 00 25 02 70 00
        00 20 15 06 19 35 35 B0 00 11 AE 73 32 56 91 8D 05 0B 87 C9 4F BF E1 2E 4D C4 02 F2 62 C4 1C F6 7F 2F""",
}


def cat():
    for name, hx in PROACTIVE.items():
        write("cat_proactive", name, h(hx))
        write("tlv", "proactive_" + name, h(hx))
    for name, hx in TERMINAL_RESPONSES.items():
        write("cat_terminal_response", name, h(hx))
        write("tlv", "tr_" + name, h(hx))
    for name, hx in ENVELOPES.items():
        write("cat_envelope", name, h(hx))
        write("tlv", "envelope_" + name, h(hx))
    # tlv.rs: three-byte COMPREHENSION tag form and the 81 xx length form.
    write("tlv", "three_byte_tag", h("7F 80 14 01 00"))
    write("tlv", "length_81", h("D0 81 80") + bytes([0x8B, 0x7E]) + bytes(126))
    # 02-cat.md §9 TERMINAL PROFILE data; shadysim's 17-byte profile starts FF FF 00.
    write("cat_terminal_profile", "worked_exchange", h("23 01 29 42 11 00 00 07"))
    write("cat_terminal_profile", "ff_ff", h("FF FF 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"))


# ---------------------------------------------------------------- sms / imei
# 04-sms.md §4 (tshark-verified TPDUs).
SMS = {
    "submit_8bit": """01 00 0C 91 44 77 00 09 10 32 00 04 18
        49 54 01 4A 09 51 24 30 32 57 81 00 00 00 00 01 11 22 33 44 55 66 77 88""",
    "submit_7bit_vp": "31 00 0C 91 44 77 00 09 10 32 00 00 A7 0A E8 32 9B FD 46 97 D9 EC 37",
    "submit_7bit_udh": "41 00 0C 91 44 77 00 09 10 32 00 00 0C 05 00 03 42 02 01 D0 65 36 FB 0D",
    # 04-sms.md §5: the SMS-DELIVER inside the SMS-PP download.
    "deliver_ota": """40 08 81 21 43 65 87 7F F6 22 70 52 00 00 00 00 25 02 70 00
        00 20 15 06 19 35 35 B0 00 11 AE 73 32 56 91 8D 05 0B 87 C9 4F BF E1 2E 4D C4 02 F2 62 C4 1C F6 7F 2F""",
}


def sms():
    for name, hx in SMS.items():
        write("sms_tpdu", name, h(hx))
    # septet target input: fill bits, septet count, packed octets ("hello" after 1 fill bit).
    write("sms_tpdu", "septets_hello_fill1", h("01 05 D0 65 36 FB 0D"))
    write("sms_tpdu", "text_ext", "{[€]}~^|\\ hello".encode())
    # 03-imei.md §2/§3 identities; 01-apdu.md §5 EF.ICCID / EF.IMSI contents.
    write("imei", "imei_mi", h("4A 09 51 24 30 32 57 81"))
    write("imei", "imeisv_mi", h("43 09 51 24 30 32 57 01 F1"))
    write("imei", "imei_prev", h("3A 25 90 09 10 67 41 18"))
    write("imei", "ef_iccid", h("98 94 00 01 21 43 65 87 09 F1"))
    write("imei", "ef_imsi", h("08 09 10 10 10 32 54 76 98"))


# ---------------------------------------------------------------- card_apdu_sequence
# `applet::card::fuzz_sequence` operation streams (format in applet/src/card/harness.rs):
# op 8 = cold reset, 9 = warm reset, 10 k t = power cut at NVM write now+k tearing t
# bytes, 3 L apdu = one APDU of L bytes. The APDUs are the handset commands of
# applet/tests/card_bad_input.rs `POOL` (the registration flow of 02-cat.md §9).
CARD_TP_UICC = "80 10 00 00 08 23 01 29 42 11 00 00 07"
CARD_TP_GSM = "A0 10 00 00 08 23 01 29 42 11 00 00 07"
CARD_FETCH_PLI = "80 12 00 00 0B"
CARD_FETCH_PLI_GSM = "A0 12 00 00 0B"
CARD_TR_PLI = "80 14 00 00 16 81 03 01 26 01 82 02 82 81 83 01 00 14 08 4A 09 51 24 30 32 57 81"
CARD_TR_PLI_GSM = "A0" + CARD_TR_PLI[2:]
CARD_TR_PLI_B = "80 14 00 00 16 81 03 01 26 01 82 02 82 81 83 01 00 14 08 3A 25 90 09 10 67 41 18"
CARD_FETCH_SM = "80 12 00 00 4C"
CARD_FETCH_SM_CHANGED = "80 12 00 00 54"
CARD_TR_SM_OK = "80 14 00 00 0C 81 03 02 13 00 82 02 82 81 83 01 00"
CARD_TR_SM_FAIL = "80 14 00 00 0C 81 03 02 13 00 82 02 82 81 83 01 21"
CARD_ENV_TIMER = "80 C2 00 00 0E D7 0C 82 02 82 81 A4 01 01 A5 03 00 03 00"
CARD_ENV_EVENT = "80 C2 00 00 15 D6 13 99 01 03 82 02 82 81 9B 01 00 93 07 00 F1 10 00 01 00 02"
CARD_VERIFY = "00 20 00 01 08 31 32 33 34 FF FF FF FF"


def card():
    def apdus(*xs):
        out = b""
        for x in xs:
            if isinstance(x, bytes):
                out += x
            else:
                a = h(x)
                out += bytes([3, len(a)]) + a
        return out

    happy = [CARD_TP_UICC, CARD_FETCH_PLI, CARD_TR_PLI, CARD_FETCH_SM, CARD_TR_SM_OK]
    write("card_apdu_sequence", "uicc_first_registration", apdus(*happy))
    write("card_apdu_sequence", "gsm_first_registration",
          apdus(CARD_TP_GSM, CARD_FETCH_PLI_GSM, CARD_TR_PLI_GSM,
                "A0" + CARD_FETCH_SM[2:], "A0" + CARD_TR_SM_OK[2:]))
    write("card_apdu_sequence", "handset_change",
          apdus(*happy, b"\x08", CARD_TP_UICC, CARD_FETCH_PLI, CARD_TR_PLI_B,
                CARD_FETCH_SM_CHANGED, CARD_TR_SM_OK))
    write("card_apdu_sequence", "sms_failure_then_timer",
          apdus(*happy[:4], CARD_TR_SM_FAIL, "80 12 00 00 0E",
                "80 14 00 00 0C 81 03 03 05 00 82 02 82 81 83 01 00", "80 12 00 00 13",
                "80 14 00 00 0F 81 03 04 27 00 82 02 82 81 83 01 00 A4 01 01",
                CARD_ENV_TIMER, CARD_ENV_EVENT, CARD_FETCH_SM,
                "80 14 00 00 0C 81 03 05 13 00 82 02 82 81 83 01 00"))
    write("card_apdu_sequence", "power_cut_in_commit",
          apdus(*happy[:4], b"\x0a\x01\x03", CARD_TR_SM_OK, b"\x08", *happy))
    write("card_apdu_sequence", "warm_reset_mid_session",
          apdus(CARD_TP_UICC, CARD_FETCH_PLI, b"\x09", CARD_VERIFY, *happy))


def main():
    if sys.argv[1:] == ["card"]:
        # Only the card sequences (no other seed directory is touched).
        shutil.rmtree(os.path.join(SEEDS, "card_apdu_sequence"), ignore_errors=True)
        card()
        return
    if os.path.isdir(SEEDS):
        for d in os.listdir(SEEDS):
            p = os.path.join(SEEDS, d)
            if os.path.isdir(p):
                shutil.rmtree(p)
    registration()
    gsmtap()
    wbxml()
    wsp()
    apdu()
    cat()
    sms()
    card()


if __name__ == "__main__":
    main()
