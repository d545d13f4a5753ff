#!/usr/bin/env python3
"""Writes the .dmp test vectors in tests/data/dmp/ and decode-config's decoding of each: every field of a
layout filled with seeded random values (numbers, text, rules, floats), sealed the way Tasmota seals its
settings (tasmota-facts.md, "The .dmp format"), then decoded by decode-config (an independent
implementation) into NAME.json and NAME.cmnd.txt. The unit tests check tasmota-fleet's decoder and
command export against those files.

Where the fields are comes from backup/layouts.json (itself derived from decode-config's tables by
tools/extract_dmp_layouts.py); this script only fills them.

Usage: tools/make_dmp_vectors.py PATH/TO/decode-config.py [PYTHON]   (PYTHON: one with configargparse,
paho-mqtt and requests; Debian: python3-configargparse python3-paho-mqtt python3-requests)"""
import json, os, random, shutil, struct, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, 'tests', 'data', 'dmp')
LAYOUTS = json.load(open(os.path.join(ROOT, 'backup', 'layouts.json')))
PLATFORMS = LAYOUTS['platforms']

# (name, Tasmota version, platform): a spread of eras, both 8.1 and 9.1 layout changes, every ESP32 variant.
VECTORS = [
    ('random-6.7.1', '6.7.1', 'ESP8266'), ('random-7.2.0', '7.2.0', 'ESP8266'), ('random-8.1.0', '8.1.0', 'ESP8266'),
    ('random-8.5.1', '8.5.1', 'ESP8266'), ('random-9.1.0', '9.1.0', 'ESP8266'), ('random-9.5.0', '9.5.0', 'ESP8266'),
    ('random-10.1.0', '10.1.0', 'ESP8266'), ('random-11.1.0', '11.1.0', 'ESP8266'), ('random-12.5.0', '12.5.0', 'ESP8266'),
    ('random-13.4.0', '13.4.0', 'ESP8266'), ('random-14.2.0', '14.2.0', 'ESP8266'), ('random-15.0.1', '15.0.1', 'ESP8266'),
    ('random-9.5.0-esp32', '9.5.0', 'ESP32'), ('random-12.5.0-esp32', '12.5.0', 'ESP32'),
    ('random-14.2.0-esp32s3', '14.2.0', 'ESP32-S3'), ('random-14.2.0-esp32s2', '14.2.0', 'ESP32-S2'),
    ('random-14.2.0-esp32c3', '14.2.0', 'ESP32-C3'), ('random-15.0.1-esp32c2', '15.0.1', 'ESP32-C2'),
    ('random-15.0.1-esp32c6', '15.0.1', 'ESP32-C6'), ('random-15.0.1-esp32p4', '15.0.1', 'ESP32-P4'),
    ('random-15.0.1-esp32', '15.0.1', 'ESP32'),
]
LONG_RULE = ('ON System#Boot DO Backlog Var1 0; Var2 0; RuleTimer1 60 ENDON '
             'ON Rules#Timer=1 DO Backlog Publish tele/kitchen/HEARTBEAT {"uptime":"%timestamp%"}; RuleTimer1 60 ENDON '
             'ON Power1#State=1 DO Backlog Publish stat/kitchen/light ON; Power2 ON; Delay 10; Power3 ON ENDON '
             'ON Power1#State=0 DO Backlog Publish stat/kitchen/light OFF; Power2 OFF; Delay 10; Power3 OFF ENDON '
             'ON Tele-AM2301#Temperature>25 DO Backlog Var1 1; Publish cmnd/fan/POWER ON ENDON '
             'ON Tele-AM2301#Temperature<23 DO Backlog Var1 0; Publish cmnd/fan/POWER OFF ENDON '
             'ON Switch1#State=2 DO Backlog Power1 TOGGLE; Mem1 %timestamp% ENDON')
WORDS = ['kitchen', 'Küche', 'garage', 'on', 'Power1#State', 'do', 'Publish', 'stat/x', '%value%', 'endon', '21°C',
         'var1', 'Mem2', '=', '{"a":1}', 'backlog', 'delay', '10', '+', 'ESP-Tasmota']


HOSTILE_TEXT = False


def vid(name):
    parts = [int(p) for p in name.split('.')] + [0] * 4
    return parts[0] << 24 | parts[1] << 16 | parts[2] << 8 | parts[3]


def layout_index(version):
    ids = [int(l['id'], 16) for l in LAYOUTS['layouts']]
    return max(i for i, x in enumerate(ids) if x <= vid(version))


def defs_for(layout, platform):
    names = [l['version'] for l in LAYOUTS['layouts']]
    out = {}
    for name, runs in LAYOUTS['fields'].items():
        for r in runs:
            if names.index(r['from']) <= layout <= names.index(r['to']) and platform in r['platforms']:
                out[name] = r
    return out


def leaves(d, offset=0):
    """Every scalar definition with its byte offset (text-pool entries once, as the pool)."""
    if 'count' in d and d.get('type') != 'text':
        inner = {k: v for k, v in d.items() if k not in ('count', 'stride')}
        if len(d['count']) > 1:
            inner['count'], inner['stride'] = d['count'][1:], d['stride'][1:]
        for i in range(d['count'][0]):
            yield from leaves(inner, offset + i * d['stride'][0])
        return
    if 'group' in d:
        for sub in d['group'].values():
            yield from leaves(sub, offset)
        return
    yield d, offset


# Byte sequences that look like UTF-8 but are not (a surrogate, overlong forms, above U+10FFFF, cut off,
# a lone continuation byte), control characters (C0, DEL, C1) and characters Python does not print
# (no-break space, zero-width space, line separator, private use): decode-config drops them all.
HOSTILE = [b'\xed\xa0\x80', b'\xc0\xaf', b'\xe0\x80\xaf', b'\xf4\x90\x80\x80', b'\xf8\x88\x80\x80\x80', b'\xe2\x82',
           b'\x80', b'\xff', b'\x01', b'\x1b[31m', b'\x7f', b'\xc2\x85', b'\xc2\xa0', b'\xe2\x80\x8b', b'\xe2\x80\xa8',
           b'\xee\x80\x80', b'\t', b'\n', 'é'.encode(), '€'.encode(), '😀'.encode()]


def text(rng, limit):
    if HOSTILE_TEXT:
        out = b''
        while len(out) < limit and rng.random() < 0.9:
            part = rng.choice(HOSTILE + [b'ab', b'Z'])
            if len(out) + len(part) > limit:
                break
            out += part
        return out
    s = ''
    while len(s.encode()) < limit and rng.random() < 0.8:
        s += rng.choice(WORDS) + ' '
    s = s.strip()
    while len(s.encode()) > limit:
        s = s[:-1]
    return s.encode()


def fill(rng, b, defs):
    pool = None
    for name, d in defs.items():
        for leaf, off in leaves(d):
            at = leaf['at'] + off
            t = leaf['type']
            if t == 'text':
                pool = leaf
            elif t == 'str':
                n = leaf['len']
                value = text(rng, min(n - 1, 60 if leaf.get('read') != 'rules' else n - 1))
                if rng.random() < 0.2:
                    value = b''
                b[at:at + n] = value + b'\0' * (n - len(value))
            elif t == 'f32':
                b[at:at + 4] = struct.pack('<f', rng.choice([0.0, 1.5, -2.25, 1013.25, 0.001, 230.0]))
    if pool:
        # as SettingsUpdateText keeps it: every string NUL-terminated, the whole pool within its bytes
        parts, room = [], pool['len'] - pool['pool']
        for _ in range(pool['pool']):
            part = text(rng, min(24, room)) if rng.random() < 0.7 else b''
            room -= len(part)
            parts.append(part)
        blob = b'\0'.join(parts) + b'\0'
        b[pool['at']:pool['at'] + pool['len']] = blob + b'\0' * (pool['len'] - len(blob))
    # The rules' space holds rules, not a script (Tasmota's scripter is a build of its own).
    used = defs.get('scripting_used')
    if used:
        b[used['at']] &= ~(1 << used.get('shift', 0)) & 0xFF


def crc32(data):
    # the reflected CRC-32 polynomial, but starting from 0 (Tasmota's GetSettingsCrc32)
    crc = 0
    for x in data:
        crc ^= x
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return ~crc & 0xFFFFFFFF


def seal(b, version, platform_index):
    size = len(b)
    b[0x002:0x004] = struct.pack('<H', size)
    b[0x008:0x00C] = struct.pack('<I', vid(version))
    if vid(version) >= 0x08020004:
        b[0xF36] = platform_index
    total = sum(b[i] * (i + 1) for i in range(size) if i not in (14, 15)) & 0xFFFF
    b[0x00E:0x010] = struct.pack('<H', total)
    if size >= 0x1000:
        b[size - 4:] = struct.pack('<I', crc32(b[:size - 4]))
    return bytes(x ^ ((0x5A + i) & 0xFF) if i >= 2 else x for i, x in enumerate(b))


def write_vector(rng, name, version, platform, decode_config, python):
    layout = layout_index(version)
    size = LAYOUTS['layouts'][layout]['size']
    b = bytearray(rng.getrandbits(8) for _ in range(size))
    fill(rng, b, defs_for(layout, platform))
    path = os.path.join(OUT, name + '.dmp')
    open(path, 'wb').write(seal(b, version, PLATFORMS.index(platform)))
    for fmt, ext in (('json', '.json'), ('cmnd', '.cmnd.txt')):
        run = subprocess.run([python, decode_config, '-s', path, '-T', fmt, '--json-indent', '1', '--json-show-pw'],
                             capture_output=True, text=True)
        if run.returncode != 0 and not run.stdout:
            raise SystemExit(name + ': decode-config failed: ' + run.stderr)
        out = run.stdout
        if fmt == 'json':  # the environment block names this machine: left out
            j = json.loads(out)
            j.get('header', {}).pop('env', None)
            out = json.dumps(j, indent=1, ensure_ascii=False) + '\n'
        open(os.path.join(OUT, name + ext), 'w').write(out)
    print(name, version, platform, 'layout', LAYOUTS['layouts'][layout]['version'])


def main():
    decode_config = sys.argv[1]
    python = sys.argv[2] if len(sys.argv) > 2 else sys.executable
    os.makedirs(OUT, exist_ok=True)
    for n, (name, version, platform) in enumerate(VECTORS):
        write_vector(random.Random(1000 + n), name, version, platform, decode_config, python)

    # Hostile bytes in every text field (the numbers random as above)
    global HOSTILE_TEXT
    HOSTILE_TEXT = True
    for n, (name, version, platform) in enumerate([('hostile-text-15.0.1', '15.0.1', 'ESP8266'), ('hostile-text-8.5.1', '8.5.1', 'ESP8266'),
                                                   ('hostile-text-14.2.0-esp32c3', '14.2.0', 'ESP32-C3')]):
        write_vector(random.Random(2000 + n), name, version, platform, decode_config, python)
    HOSTILE_TEXT = False
    # Rules of 512 bytes or more, written by decode-config into a copy of a random vector: it stores them
    # compressed with Unishox, as the firmware's SetRule does.
    for name, source in (('rule-compressed-15.0.1', 'random-15.0.1'), ('rule-compressed-10.1.0', 'random-10.1.0')):
        rules = {'rules': [LONG_RULE, 'ON Switch1#State DO Power1 TOGGLE ENDON', LONG_RULE[:520].rstrip()]}
        restore = os.path.join(OUT, name + '.restore.json')
        open(restore, 'w').write(json.dumps(rules))
        path = os.path.join(OUT, name + '.dmp')
        shutil.copyfile(os.path.join(OUT, source + '.dmp'), path)
        # -s FILE -i JSON restores into FILE itself
        run = subprocess.run([python, decode_config, '-s', path, '-i', restore], capture_output=True, text=True)
        os.remove(restore)
        if 'Restore successful' not in run.stdout + run.stderr:
            raise SystemExit(name + ': decode-config failed: ' + run.stderr + run.stdout)
        run = subprocess.run([python, decode_config, '-s', path, '--json-indent', '1', '--json-show-pw'], capture_output=True, text=True)
        j = json.loads(run.stdout)
        j.get('header', {}).pop('env', None)
        open(os.path.join(OUT, name + '.json'), 'w').write(json.dumps(j, indent=1, ensure_ascii=False) + '\n')
        print(name, 'from', source)


main()
