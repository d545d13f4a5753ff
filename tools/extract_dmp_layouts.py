#!/usr/bin/env python3
"""Derives backup/layouts.json, the .dmp field layouts tasmota-fleet decodes, from decode-config's
settings tables (tasmota/decode-config, decode-config.py): field names, offsets, types, array sizes,
bit positions, text-pool indexes, per layout version and per platform. Facts only: this script reads
the tables and writes data; none of decode-config's code is copied into tasmota-fleet.

Usage: tools/extract_dmp_layouts.py PATH/TO/decode-config.py > backup/layouts.json
Run it again when a new Tasmota release changes the settings layout (decode-config adds a table)."""
import importlib.util, json, re, struct, sys, types

FIELDS = [  # what defines a device's behaviour (issue #5) plus the header; every other field decode-config has follows
    'cfg_holder', 'cfg_size', 'save_flag', 'version', 'bootcount', 'cfg_crc', 'config_version', 'cfg_timestamp', 'cfg_crc32',
    'flag', 'flag2', 'flag3', 'flag4', 'flag5', 'flag6', 'param',
    'save_data', 'timezone', 'timezone_minutes', 'latitude', 'longitude', 'tele_period', 'poweronstate', 'ledstate', 'sleep',
    'ota_url', 'hostname', 'webserver', 'web_password', 'sta_ssid', 'sta_pwd', 'ip_address', 'syslog_host', 'syslog_port', 'syslog_level',
    'mqtt_host', 'mqtt_port', 'mqtt_client', 'mqtt_user', 'mqtt_pwd', 'mqtt_topic', 'button_topic', 'mqtt_grptopic',
    'mqtt_fulltopic', 'mqtt_prefix', 'mqtt_retry', 'friendlyname', 'devicename', 'state_text', 'switchmode', 'interlock',
    'module', 'my_gp', 'my_gp_esp32', 'user_template', 'user_template_esp32', 'templatename', 'gpio16_converted',
    'rules', 'rule_enabled', 'rule_once', 'rule_stop', 'timer', 'power', 'ntp_server', 'blinktime', 'blinkcount',
]
PLATFORMS = ['ESP8266', 'ESP32', 'ESP32-S3', 'ESP32-S2', 'ESP32-C3', 'ESP32-C2', 'ESP32-C6', 'ESP32-P4']
TYPES = {'B': 'u8', 'b': 'i8', 'c': 'u8', '?': 'u8', 'H': 'u16', 'h': 'i16', 'I': 'u32', 'i': 'i32', 'L': 'u32', 'l': 'i32',
         'Q': 'u64', 'q': 'i64', 'f': 'f32'}
# decode-config's read converters that change a value (display-only formatting keeps the number)
READ = {'$+1': 'plus1', 'float($) / 1000000': 'micro', "socket.inet_ntoa(struct.pack('<L', $))": 'ipv4',
        '1 if $==65504 else $': 'gpio32_user', '$ * 1200': 'mul:1200', '$ * 300': 'mul:300', '$ * 100': 'mul:100',
        'int($ * 10)': 'mul:10', '$ - 2': 'add:-2', 'float($) // 1000': 'per_mille_floor',
        '"-" if $==0 else ($-1)<<1': 'shutter_button'}
DISPLAY = re.compile(r'^("0x\{:0?\d*x\}"|"0b\{:0?\d*b\}"|hex\(\$\)|"0x\{:\d+x\}")(\.format\(\$\))?$')


def load(path):
    for name in ('configargparse', 'requests'):
        sys.modules[name] = types.ModuleType(name)
    paho = types.ModuleType('paho'); paho.mqtt = types.ModuleType('paho.mqtt'); paho.mqtt.client = types.ModuleType('c')
    sys.modules['paho'] = paho; sys.modules['paho.mqtt'] = paho.mqtt; sys.modules['paho.mqtt.client'] = paho.mqtt.client
    spec = importlib.util.spec_from_file_location('dc', path)
    dc = importlib.util.module_from_spec(spec)
    sys.argv = ['decode-config']
    spec.loader.exec_module(dc)
    return dc


def read_conv(dc, fielddef):
    conv = dc.get_fielddef(fielddef, fields='readconverter')
    if conv is False:
        return 'hidden'  # decode-config never shows it (scripting_used, …); the .dmp keeps it
    if conv is None:
        return None
    if callable(conv):
        return {'passwordread': None, 'rulesread': 'rules', 'scriptread': 'script', 'isscript': 'script_only'}.get(
            conv.__name__, 'unknown:' + conv.__name__)
    if conv in READ:
        return READ[conv]
    if DISPLAY.match(conv.strip()):
        return None
    return 'unknown:' + conv


def describe(dc, template, fielddef, platform):
    mask = dc.HARDWARE.get_bitmask(platform)
    hw, fmt, base, bits, shift, strindex_name, arraydef = dc.get_fielddef(
        fielddef, fields='hardware, format_, baseaddr, bits, bitshift, addrdef, arraydef')
    if not (hw & mask):
        return None
    out = {}
    if isinstance(arraydef, list) and arraydef:
        out['count'] = arraydef
        sub = fielddef
        strides = []
        for _ in arraydef:
            sub = dc.get_subfielddef(sub)
            strides.append(dc.get_fieldlength(sub))
        out['stride'] = strides
    if isinstance(fmt, dict):
        group = {}
        for name, sub in fmt.items():
            d = describe(dc, template, sub, platform)
            if d is not None:
                group[name] = d
        if not group:
            return None
        out['group'] = group
        if base is not None:
            out['at'] = base
        return out
    out['at'] = base
    m = re.match(r'^<?(\d*)([a-zA-Z?])$', fmt)
    count, code = (int(m.group(1)) if m.group(1) else 1), m.group(2)
    if code in 'sp':
        out['type'] = 'str'
        out['len'] = count
        addrdef = dc.get_fielddef(fielddef, fields='addrdef')
        if isinstance(addrdef, tuple) and len(addrdef) == 2:
            names = template[dc.SETTINGVAR][dc.HARDWARE.hstr(hw)]
            out['type'] = 'text'
            out['index'] = names.index(addrdef[1])
            out['pool'] = names.index('SET_MAX')
    elif count == 3 and code == 'B':
        out['type'] = 'u24be'  # three bytes read as one number, the first the most significant (WebColor)
    else:
        if count != 1:
            raise SystemExit('unexpected count format ' + fmt)
        out['type'] = TYPES[code]
        if isinstance(dc.get_fielddef(fielddef, fields='addrdef'), tuple):
            out['bits'] = bits
            out['shift'] = shift
    conv = read_conv(dc, fielddef)
    if conv:
        if conv.startswith('unknown:'):
            print('warning: read converter not modelled: ' + conv, file=sys.stderr)
        else:
            out['read'] = conv
    return out


def version_name(v):
    parts = [(v >> 24) & 0xff, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff]
    return '.'.join(str(p) for p in (parts if parts[3] else parts[:3]))


def main():
    dc = load(sys.argv[1])
    settings = sorted(dc.SETTINGS, key=lambda s: s[0])
    # decode-config 15.0.1.2 assigns SETTING_15_0_1_2 a dict of only the fields the ESP32-P4 moved instead
    # of updating the 14.6.0.1 table (so 15.0.1.2+ files lose most fields there): read such a partial
    # table as an update of the one before, which is what its own comment and Tasmota's settings.h say.
    fixed, previous = [], None
    for v, size, template in settings:
        if previous is not None and len(template) < len(previous) // 2:
            template = {**previous, **template}
        fixed.append((v, size, template))
        previous = template
    settings = [s for s in fixed if s[0] >= 0x06000000]
    layouts = [{'id': '0x%08X' % v, 'version': version_name(v), 'size': size} for v, size, _ in settings]
    fields = {}
    # where the ESP32 family or one variant keeps a field elsewhere decode-config names it NAME_esp32,
    # NAME_esp32c3, NAME_esp32p4, …
    suffixes = ['', '_esp32', '_esp32s2', '_esp32s3', '_esp32c2', '_esp32c3', '_esp32c5', '_esp32c6', '_esp32p4']
    names = []
    # every field decode-config decodes (the decoder reads them sorted by name, as decode-config prints them)
    every = sorted({n for _, _, t in settings for n in t if n != dc.SETTINGVAR})
    for name in FIELDS + [n for n in every if n not in FIELDS]:
        names += [n for n in (name + x for x in suffixes) if n not in names and any(n in t for _, _, t in settings)]
    for name in names:
        runs = []
        for platform in range(len(PLATFORMS)):
            for i, (v, size, template) in enumerate(settings):
                d = template.get(name)
                desc = describe(dc, template, d, platform) if d is not None else None
                if desc is None:
                    continue
                last = runs[-1] if runs else None
                if last and last['def'] == desc and last['last'] == i - 1 and last['platforms'] == [platform]:
                    last['last'] = i
                else:
                    runs.append({'first': i, 'last': i, 'platforms': [platform], 'def': desc})
        # merge identical runs across platforms
        merged = []
        for r in runs:
            for m in merged:
                if m['first'] == r['first'] and m['last'] == r['last'] and m['def'] == r['def']:
                    m['platforms'].append(r['platforms'][0])
                    break
            else:
                merged.append(r)
        fields[name] = [{'from': layouts[r['first']]['version'], 'to': layouts[r['last']]['version'],
                         'platforms': [PLATFORMS[p] for p in r['platforms']], **r['def']} for r in merged]
    json.dump({'about': 'Tasmota settings (.dmp) field layouts, derived by tools/extract_dmp_layouts.py from the '
                        'settings tables of decode-config ' + dc.METADATA['VERSION'] + '. "from"/"to": the first and last layout version '
                        'a definition holds for; a file uses the newest layout not newer than its version.',
               'platforms': PLATFORMS, 'layouts': layouts, 'fields': fields}, sys.stdout, indent=1, sort_keys=False)
    print()


main()
