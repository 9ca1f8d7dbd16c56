#!/usr/bin/env python3
"""tests/lib/apply_values.py: the cases of 83_apply_values.sh.

  apply_values.py cases DIR        writes DIR/in.tsv (apply_values_driver's
                                   input) and DIR/cases.json
  apply_values.py check DIR PSQL.. reads DIR/out.tsv (the driver's output),
                                   checks each value against the expected
                                   one and against PostgreSQL through PSQL
                                   (a psql command line); prints one
                                   "ok NAME" or "not ok NAME: why" a case.

Expected values come from Python's integers (decimals: two's-complement
bytes and digits) or from PostgreSQL's own arithmetic (dates and
timestamps as '1970-01-01' plus days and microseconds), not from the
agent's code.
"""
import base64
import json
import random
import subprocess
import sys

sys.set_int_max_str_digits(0)

DEC = '{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"%d"},"field":"v"}'


def b64_of(u):
    n = (u.bit_length() if u >= 0 else (-u - 1).bit_length()) // 8 + 1
    return base64.b64encode(u.to_bytes(n, "big", signed=True)).decode()


def scaled(u, scale):
    s = str(abs(u))
    if scale <= 0:
        s = s + "0" * -scale if u else "0"
    elif len(s) > scale:
        s = s[:-scale] + "." + s[-scale:]
    else:
        s = "0." + "0" * (scale - len(s)) + s
    return ("-" if u < 0 else "") + s


def cases():
    rnd = random.Random(83)
    out = []

    def dec(name, digits, scale, negative=False):
        u = int(str(rnd.randint(1, 9)) + "".join(rnd.choice("0123456789") for _ in range(digits - 1)))
        u = -u if negative else u
        out.append(dict(name=name, type="numeric", length=-1, scale=-1, schema="-",
                        value=json.dumps({"scale": scale, "value": b64_of(u)}),
                        want=scaled(u, scale), pgtype="numeric"))
        return u

    for neg in (False, True):
        sign = "negative " if neg else ""
        dec(sign + "1000-digit decimal at scale 0", 1000, 0, neg)
        dec(sign + "1000-digit decimal at scale 500", 1000, 500, neg)
        dec(sign + "131072+16383-digit decimal at scale 16383", 131072 + 16383, 16383, neg)
    dec("decimal of 4 digits at scale -131068 (131072 digits)", 4, -131068)
    out.append(dict(name="all-digit base64 under a Decimal schema", type="numeric", length=-1,
                    scale=-1, schema=DEC % 2, value='"1234"',
                    want=scaled(int.from_bytes(base64.b64decode("1234"), "big", signed=True), 2),
                    pgtype="numeric"))
    u = int("9" * 131073)
    out.append(dict(name="131073 digits before the point", type="numeric", length=-1, scale=-1,
                    schema="-", value=json.dumps({"scale": 0, "value": b64_of(u)}),
                    refused="has 131073 digits before the point", pgfails="'%s'::numeric" % u))
    out.append(dict(name="scale 16384", type="numeric", length=-1, scale=-1, schema="-",
                    value=json.dumps({"scale": 16384, "value": b64_of(1)}),
                    refused="decimal scale 16384 is out of",
                    pgfails="'%s'::numeric" % scaled(1, 16384)))

    def date(days, refused=False):
        c = dict(name="date %d" % days, type="date", length=-1, scale=-1, schema="-", value=str(days))
        if refused:
            c.update(refused="is out of PostgreSQL's range", pgfails="'1970-01-01'::date + %d" % days)
        else:
            c.update(oracle="'1970-01-01'::date + %d" % days, pgtype="date")
        out.append(c)

    for d in (-2440588, 2145042905, -735160, -720930, -719163, -719162, 11016, -25508, 19782):
        date(d)
    date(-2440589, True)
    date(2145042906, True)

    def ts(ticks, per_sec, length, refused=None):
        c = dict(name="timestamp %d (%d a second)" % (ticks, per_sec), type="timestamp",
                 length=length, scale=-1, schema="-", value=str(ticks))
        days, rem = divmod(ticks, per_sec * 86400)
        micros = rem * (1000000 // per_sec)
        if refused:
            c.update(refused="is out of PostgreSQL's range", pgfails=refused)
        else:
            c.update(oracle="'1970-01-01'::timestamp + %d * interval '1 day' + %d * interval '1 microsecond'"
                     % (days, micros), pgtype="timestamp")
        out.append(c)

    ts(-210866803200000000, 10**6, 6)
    ts(2**63 - 1, 10**6, 6)
    ts(-1, 10**6, 6)
    ts(1704067260123456, 10**6, 6)
    ts(-62135596800000001, 10**6, 6)
    ts(9224318015999999, 1000, 3)
    ts(-210866803200000001, 10**6, 6, "'4714-11-23 23:59:59.999999 BC'::timestamp")
    ts(9224318016000000, 1000, 3, "'294277-01-01 00:00:00'::timestamp")

    def time(micros, refused=None):
        c = dict(name="time %d" % micros, type="time", length=6, scale=-1, schema="-", value=str(micros))
        if refused:
            c.update(refused="is out of PostgreSQL's range", pgfails=refused)
        else:
            s, f = divmod(micros, 10**6)
            c.update(oracle="'%02d:%02d:%02d.%06d'::time" % (s // 3600, s // 60 % 60, s % 60, f),
                     pgtype="time")
        out.append(c)

    time(0)
    time(86400000000)
    time(45296789012)
    time(86400000001, "'24:00:00.000001'::time")
    out.append(dict(name="interval of -2^63 microseconds", type="interval", length=-1, scale=-1,
                    schema="-", value=str(-2**63),
                    oracle="interval '-106751991 days -14454775808 microseconds'",
                    pgtype="interval"))
    # microseconds are written as days and time, as PostgreSQL prints an
    # interval of days (Debezium's MicroDuration cannot tell months)
    out.append(dict(name="interval of 1187 days 3 hours in microseconds", type="interval", length=-1,
                    scale=-1, schema="-", value=str((1187 * 24 + 3) * 3600 * 10**6),
                    oracle="interval '1187 days 03:00:00'", pgtype="interval"))
    return out


def main():
    if sys.argv[1] == "cases":
        d = sys.argv[2]
        cs = cases()
        with open(d + "/in.tsv", "w") as f:
            for c in cs:
                f.write("\t".join((c["type"], str(c["length"]), str(c["scale"]), c["schema"], c["value"])) + "\n")
        with open(d + "/cases.json", "w") as f:
            json.dump(cs, f)
        return
    d, psql = sys.argv[2], sys.argv[3:]
    cs = json.load(open(d + "/cases.json"))
    got = open(d + "/out.tsv").read().split("\n")

    def pg(sql):
        r = subprocess.run(psql + ["-f", "-"], input=sql, capture_output=True, text=True)
        return r.returncode, r.stdout.strip(), " ".join(r.stderr.split())

    for i, c in enumerate(cs):
        status, _, text = got[i].partition("\t") if i < len(got) else ("", "", "no output")
        name = c["name"]
        if "refused" in c:
            if status != "ERR" or c["refused"] not in text:
                print("not ok %s: expected refused (%s), got %s %.200s" % (name, c["refused"], status, text))
                continue
            rc, _, err = pg("SELECT (%s)::text;" % c["pgfails"])
            if rc == 0 or "out of range" not in err and "overflow" not in err:
                print("not ok %s: refused, but PostgreSQL takes it (%s)" % (name, err[:200]))
                continue
            print("ok %s: refused as PostgreSQL does (%s)" % (name, text[:120]))
            continue
        if status != "OK":
            print("not ok %s: %s %.300s" % (name, status, text))
            continue
        if "want" in c and text != c["want"]:
            print("not ok %s: got %.100s... (%d chars), expected %.100s... (%d chars)"
                  % (name, text, len(text), c["want"], len(c["want"])))
            continue
        lit = "'" + text.replace("'", "''") + "'"
        # PostgreSQL takes the text, its own output of it is the text (or
        # the oracle's), and for decimals it keeps every digit
        oracle = c.get("oracle", lit)
        rc, out, err = pg("SELECT %s::%s::text = (%s)::%s::text, %s::%s::text = %s;"
                          % (lit, c["pgtype"], oracle, c["pgtype"], lit, c["pgtype"], lit))
        identical = out.endswith("|t")
        if rc != 0 or not out.startswith("t|"):
            print("not ok %s: PostgreSQL: rc %d %s %s (our text %.100s)" % (name, rc, out[:200], err[:200], text))
        elif c["pgtype"] in ("numeric", "date") and not identical:
            print("not ok %s: PostgreSQL prints it differently (%.100s)" % (name, text))
        else:
            print("ok %s: %.60s%s" % (name, text, "..." if len(text) > 60 else ""))


main()
