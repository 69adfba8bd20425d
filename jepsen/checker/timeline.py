"""SVG timeline of a jepsen history (stdlib only: the SVG is written as text).

One lane per region shows when it was acting (oracle accepts of write,
promote, scale n>0, dns), one box per (region, token) coloured by token,
with ticks for acknowledged writes and for rejected (fenced) requests; a DNS
lane shows where DNS pointed; fault lanes show every nemesis interval; red
lines mark the checker's anomalies, a dashed line the final heal.  Hover
for details (<title> elements).

    python3 timeline.py HISTORY.jsonl [ORACLE.jsonl ...] -o timeline.svg
"""

import argparse
import json
import math
import os
import sys
from xml.sax.saxutils import escape, quoteattr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

LEFT, RIGHT, TOP = 110, 20, 44
LANE_H, LANE_GAP = 26, 6
FAULT_H = 18
AXIS_H = 30


def _color_token(tok):
    return "hsl(%d,60%%,58%%)" % ((tok * 47) % 360)


def _color_region(i):
    return "hsl(%d,45%%,70%%)" % ((i * 83 + 200) % 360)


def _nice_step(span_s, target=10):
    """1, 2 or 5 times a power of ten, giving about `target` ticks."""
    raw = span_s / target if span_s > 0 else 1.0
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def _pack(fault_ivs):
    """Greedy rows so that overlapping faults do not share one."""
    rows = []
    placed = []
    for f in fault_ivs:
        for i, end in enumerate(rows):
            if end < f["start"]:
                rows[i] = f["end"]
                placed.append((i, f))
                break
        else:
            rows.append(f["end"])
            placed.append((len(rows) - 1, f))
    return max(1, len(rows)), placed


def render_svg(events, results=None, width=1200):
    evs = check.normalize(events)
    if results is None:
        results = check.check(events)
    ivs = sorted(check.intervals(evs).values(), key=lambda iv: iv["start"])
    faults = check.fault_intervals(evs)
    regions = sorted({iv["region"] for iv in ivs} |
                     {ev["value"].get("region") for ev in evs
                      if ev["type"] == "ok" and ev["f"] == "write" and ev["value"].get("region")} |
                     {ev["value"].get("region") for ev in evs
                      if ev["type"] == "event" and ev["f"] == "reject" and
                      ev["value"].get("region")})
    t0 = evs[0]["t"] if evs else 0
    t1 = evs[-1]["t"] if evs else 1
    span = max(t1 - t0, 1)
    plot_w = width - LEFT - RIGHT
    x = lambda t: LEFT + (t - t0) * plot_w / span
    nrows, placed = _pack(faults)

    lanes_y = {}
    y = TOP
    for r in regions:
        lanes_y[r] = y
        y += LANE_H + LANE_GAP
    dns_y = y
    y += LANE_H + LANE_GAP
    fault_y = y
    y += nrows * (FAULT_H + 2) + LANE_GAP
    axis_y = y
    height = axis_y + AXIS_H

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">'
           % (width, height, width, height),
           '<rect x="0" y="0" width="%d" height="%d" fill="white"/>' % (width, height)]
    valid = results.get("valid")
    out.append('<text x="%d" y="18" font-size="14" font-weight="bold">%s</text>' % (
        LEFT, escape("baton jepsen timeline: valid=%s, %s, %d events, %.3f s" % (
            valid, "%d passed, %d failed" % (results.get("passed", 0), results.get("failed", 0)),
            len(evs), span / 1e9))))

    def label(yy, text):
        out.append('<text x="%d" y="%d" text-anchor="end">%s</text>'
                   % (LEFT - 8, yy + LANE_H / 2 + 4, escape(text)))

    for r in regions:
        ly = lanes_y[r]
        label(ly, "region %s" % r)
        out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="#f4f4f4"/>'
                   % (LEFT, ly, plot_w, LANE_H))
    for iv in ivs:
        ly = lanes_y[iv["region"]]
        x0, x1 = x(iv["start"]), x(iv["end"])
        w = max(x1 - x0, 2)
        tip = "region %s token %d: %.3f..%.3f s, %d accepts" % (
            iv["region"], iv["token"], (iv["start"] - t0) / 1e9, (iv["end"] - t0) / 1e9, iv["n"])
        out.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill=%s stroke="#333" '
                   'stroke-width="0.5"><title>%s</title></rect>'
                   % (x0, ly + 3, w, LANE_H - 6, quoteattr(_color_token(iv["token"])),
                      escape(tip)))
        if w > 26:
            out.append('<text x="%.1f" y="%d">e%d</text>' % (x0 + 3, ly + LANE_H / 2 + 4,
                                                            iv["token"]))
    for ev in evs:
        v = ev["value"]
        if ev["type"] == "ok" and ev["f"] == "write" and v.get("region") in lanes_y:
            ly = lanes_y[v["region"]]
            out.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#1a7f37"/>'
                       % (x(ev["t"]), x(ev["t"]), ly + LANE_H - 6, ly + LANE_H))
        elif ev["type"] == "event" and ev["f"] == "reject" and v.get("region") in lanes_y:
            ly = lanes_y[v["region"]]
            out.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#555">'
                       '<title>%s</title></line>'
                       % (x(ev["t"]), x(ev["t"]), ly, ly + 6,
                          escape("reject %s token %s max %s" % (v.get("op"), v.get("token"),
                                                                v.get("max")))))

    label(dns_y, "dns")
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="#f4f4f4"/>'
               % (LEFT, dns_y, plot_w, LANE_H))
    dns = [ev for ev in evs if check.is_accept(ev) and ev["value"].get("op") == "dns"]
    for i, ev in enumerate(dns):
        end = dns[i + 1]["t"] if i + 1 < len(dns) else t1
        tgt = ev["value"].get("target")
        idx = regions.index(tgt) if tgt in regions else len(regions)
        x0, w = x(ev["t"]), max(x(end) - x(ev["t"]), 1)
        out.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill=%s><title>%s</title>'
                   '</rect>' % (x0, dns_y + 3, w, LANE_H - 6, quoteattr(_color_region(idx)),
                                escape("dns -> %s (token %s)" % (tgt, ev["value"].get("token")))))
        if w > 20:
            out.append('<text x="%.1f" y="%d">%s</text>' % (x0 + 3, dns_y + LANE_H / 2 + 4,
                                                           escape(str(tgt))))

    out.append('<text x="%d" y="%d" text-anchor="end">faults</text>'
               % (LEFT - 8, fault_y + FAULT_H / 2 + 4))
    for row, f in placed:
        fy = fault_y + row * (FAULT_H + 2)
        x0, w = x(f["start"]), max(x(f["end"]) - x(f["start"]), 2)
        tgts = check.fault_targets(f["value"])
        name = f["name"] + (" " + ",".join(tgts) if tgts else "")
        out.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#f0b429" '
                   'fill-opacity="0.6" stroke="#a66a00" stroke-width="0.5"><title>%s</title></rect>'
                   % (x0, fy, w, FAULT_H, escape("%s %s" % (name, json.dumps(
                       f["value"], sort_keys=True, separators=(",", ":"))))))
        if w > 30:
            out.append('<text x="%.1f" y="%d">%s</text>' % (x0 + 3, fy + FAULT_H - 5,
                                                           escape(name)))

    heals = check.final_heals(evs)
    if heals:
        hx = x(heals[-1]["t"])
        out.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#0550ae" '
                   'stroke-dasharray="4,3"><title>final heal</title></line>'
                   % (hx, hx, TOP - 4, axis_y))
    for name, p in results.get("properties", {}).items():
        for a in p.get("anomalies", []):
            if not a.get("t"):
                continue
            ax = x(a["t"])
            out.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#cf222e" '
                       'stroke-width="1.5"><title>%s</title></line>'
                       % (ax, ax, TOP - 4, axis_y, escape("%s: %s: %s" % (name, a["kind"],
                                                                          a["msg"]))))

    out.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#333"/>'
               % (LEFT, LEFT + plot_w, axis_y, axis_y))
    step = _nice_step(span / 1e9)
    k = 0
    while k * step <= span / 1e9 + 1e-9:
        tx = x(t0 + int(k * step * 1e9))
        out.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#333"/>'
                   '<text x="%.1f" y="%d" text-anchor="middle">%gs</text>'
                   % (tx, tx, axis_y, axis_y + 4, tx, axis_y + 16, round(k * step, 6)))
        k += 1
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_svg(events, path, results=None):
    text = render_svg(events, results)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description="draw the SVG timeline of a jepsen history")
    ap.add_argument("history", nargs="+")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)
    try:
        events = check.load(args.history)
    except (OSError, check.InputError) as e:
        print("timeline: %s" % e, file=sys.stderr)
        return 3
    write_svg(events, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
