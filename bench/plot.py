#!/usr/bin/env python3
"""Draws a gatehouse bench results document (bench/results/*.json, written by bench/bench.py) as
three SVG files next to it, without running anything:

  NAME-throughput.svg  successful answers/s per case and concurrency (log scale), gatehouse on
                       SQLite and on PostgreSQL and the peer side by side; the password grant's
                       tokens/s as a percentage of the raw argon2id rate, with the 90 % target
  NAME-p99.svg         p99 latency per case and concurrency (log scale); overload: accepted p99
                       divided by the saturation p99, with the 2x target
  NAME-memory.svg      peak RSS per case, idle, under overload and with 1,000 open idle
                       connections, with the 64 MiB target

usage: python3 bench/plot.py RESULTS.json [...]     (or bench/run.sh --plot RESULTS.json)

Standard library only: the SVG is written by hand (grouped bars, log or linear axes), so a plot
can be redrawn on any machine with Python 3, with nothing to install.
"""
import html
import json
import math
import os
import sys

# (row "server", legend, colour): the series of every bar group, in this order.
SERIES = [("gatehouse sqlite", "gatehouse, SQLite", "#2f6db5"),
          ("gatehouse postgres", "gatehouse, PostgreSQL", "#e08a1e"),
          ("peer", "peer (@jmondi/oauth2-server, Node)", "#8c8c8c")]
# (row "case", label on the axis): the cases of the per-case panels, in this order.
CASES = [("password", "password (retry at once)"),
         ("password (honours Retry-After)", "password (honour Retry-After)"),
         ("refresh", "refresh"),
         ("introspect (JWT)", "introspect (JWT)"),
         ("introspect (opaque)", "introspect (opaque)"),
         ("introspect (refresh token)", "introspect (refresh token)"),
         ("jwks", "JWKS"),
         ("discovery", "discovery")]
FONT = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""
BAR, GAP, MARGIN_L, MARGIN_R = 15, 14, 78, 20


def fmt(v):
    """A bar's value, short: 60.1k, 812, 76.6, 4.35."""
    if v >= 10000:
        return f"{v / 1000:.0f}k"
    if v >= 1000:
        return f"{v / 1000:.1f}k"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def text(x, y, s, size=11, anchor="start", weight="normal", fill="#222", rotate=None, halo=False):
    rot = f' transform="rotate({rotate} {x:.1f} {y:.1f})"' if rotate is not None else ""
    # A white outline under the glyphs keeps a label readable where it crosses a bar or a line.
    outline = ' stroke="white" stroke-width="3" paint-order="stroke"' if halo else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}" '
            f'fill="{fill}" {FONT}{rot}{outline}>{html.escape(str(s))}</text>')


def group_widths(groups):
    """The narrowest width of each group at which no two labels overlap (about 6.3 px a character
    of the 10.5 px labels; a label shared by k groups is spread over them), never narrower than
    the bars."""
    bars, spans = len(SERIES) * BAR + GAP, []
    for upper, _ in groups:
        if spans and spans[-1][0] == upper:
            spans[-1][1] += 1
        else:
            spans.append([upper, 1])
    out = []
    for upper, k in spans:
        first, _, rest = upper.partition(" (")
        out += [max(bars, (6.3 * max(len(first), len(rest) + 2) + 8) / k)] * k
    return out


class Axis:
    """Maps values to y pixels, log (decades) or linear (0 to a round top)."""

    def __init__(self, values, log, top, height, extra=()):
        vals = [v for v in values if v is not None and v > 0] + [v for v in extra if v > 0]
        self.log, self.top, self.height = log, top, height
        if log:
            lo = min(vals) if vals else 1
            hi = max(vals) if vals else 10
            self.lo = 10 ** math.floor(math.log10(lo / 2))
            self.hi = 10 ** math.ceil(math.log10(hi * 1.8))
        else:
            hi = max(vals) * 1.15 if vals else 1
            mag = 10 ** math.floor(math.log10(hi / 5))
            self.step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= hi / 5)
            self.lo, self.hi = 0, math.ceil(hi / self.step) * self.step

    def y(self, v):
        if self.log:
            v = max(v, self.lo)
            f = (math.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        else:
            f = (v - self.lo) / (self.hi - self.lo)
        return self.top + self.height * (1 - min(1.0, f))

    def ticks(self):
        """(value, label, major) pairs for grid lines."""
        if self.log:
            out = []
            d = self.lo
            while d <= self.hi * 1.0001:
                out.append((d, f"{d:g}" if d < 1000 else f"{d / 1000:g}k", True))
                for m in (2, 5):
                    if d * m < self.hi:
                        out.append((d * m, "", False))
                d *= 10
            return out
        n = round(self.hi / self.step)
        return [(i * self.step, f"{i * self.step:g}", True) for i in range(n + 1)]


def panel(*args, **kw):
    """A panel to draw (the arguments of render_panel but its width, which svg() sets to the
    widest panel's)."""
    return args, kw


def render_panel(title, note, groups, values, log, unit, targets=(), width=None, pct=False):
    """One grouped-bar panel as (svg fragments, width, height). `groups` is a list of
    (upper label, lower label); adjacent groups with the same upper label share it. `values` is
    one list per group with one value (or None) per series."""
    n = len(SERIES)
    widths = group_widths(groups)
    w = max(width or 0, MARGIN_L + sum(widths) + MARGIN_R)
    plot_w = w - MARGIN_L - MARGIN_R
    # Each group's left edge, the groups stretched in proportion to fill the panel.
    scale = plot_w / max(sum(widths), 1)
    edges = [MARGIN_L + scale * sum(widths[:i]) for i in range(len(widths) + 1)]
    top, plot_h = 52, 260
    h = top + plot_h + 62
    flat = [v for vs in values for v in vs]
    axis = Axis(flat, log, top, plot_h, [t for t, _ in targets])
    out = [text(10, 18, title, 14, weight="bold"), text(10, 35, note, 10.5, fill="#555")]
    x0 = MARGIN_L
    for v, label, major in axis.ticks():
        y = axis.y(v)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + plot_w}" y2="{y:.1f}" '
                   f'stroke="{"#ccc" if major else "#eee"}" stroke-width="1"/>')
        if label:
            out.append(text(x0 - 6, y + 4, label + ("%" if pct else ""), 10, anchor="end", fill="#444"))
    out.append(text(16, top + plot_h / 2, unit, 11, anchor="middle", fill="#444", rotate=-90))
    baseline = axis.y(axis.lo)
    spans = []
    for gi, ((upper, lower), vs) in enumerate(zip(groups, values)):
        gx = (edges[gi] + edges[gi + 1] - n * BAR) / 2
        for si, v in enumerate(vs):
            if v is None:
                continue
            bx = gx + si * BAR
            y = axis.y(v) if v > 0 else baseline
            out.append(f'<rect x="{bx:.1f}" y="{y:.1f}" width="{BAR - 2}" height="{max(baseline - y, 0.5):.1f}" '
                       f'fill="{SERIES[si][2]}"><title>{html.escape(SERIES[si][1])}, {html.escape(upper)} '
                       f'{html.escape(lower)}: {fmt(v)}{"%" if pct else ""}</title></rect>')
            out.append(text(bx + (BAR - 2) / 2 + 3.5, y - 3, fmt(v) + ("%" if pct else ""), 9,
                            fill="#333", rotate=-90, halo=True))
        out.append(text(gx + n * BAR / 2, baseline + 14, lower, 10, anchor="middle", fill="#444"))
        if spans and spans[-1][0] == upper:
            spans[-1][2] = gi
        else:
            spans.append([upper, gi, gi])
    for upper, a, b in spans:
        cx = (edges[a] + edges[b + 1]) / 2
        first, _, rest = upper.partition(" (")
        out.append(text(cx, baseline + 30, first, 10.5, anchor="middle", weight="bold"))
        if rest:
            out.append(text(cx, baseline + 43, "(" + rest, 10, anchor="middle"))
        if b + 1 < len(groups):
            sx = edges[b + 1]
            out.append(f'<line x1="{sx:.1f}" y1="{top}" x2="{sx:.1f}" y2="{baseline + 44:.1f}" stroke="#e4e4e4"/>')
    for t, label in targets:
        y = axis.y(t)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + plot_w}" y2="{y:.1f}" stroke="#c0392b" '
                   f'stroke-width="1.5" stroke-dasharray="6 4"/>')
        out.append(text(x0 + plot_w - 4, y - 4, label, 10, anchor="end", fill="#c0392b", halo=True))
    out.append(f'<line x1="{x0}" y1="{baseline:.1f}" x2="{x0 + plot_w}" y2="{baseline:.1f}" stroke="#444"/>')
    return out, w, h


def svg(doc, heading, panels):
    """Stacks panels under a heading with the run's facts; returns the SVG text."""
    m, sw, opts = doc["machine"], doc["software"], doc["options"]
    raw = doc["argon2"]["used"]
    facts = [f"{m['cpu_model']}, {m['cores']} cores, {m['memory_mib'] / 1024:.1f} GiB, {m['os']}, "
             f"Linux {m['kernel']}, load average {' '.join(m['loadavg_start'])} at the start",
             f"{sw['rustc']}; PostgreSQL {sw['postgresql'] or '(not run)'}; node {sw['node'] or '(no peer)'}; "
             f"{(sw['wrk'] or 'wrk').split(' Copyright')[0]}",
             f"commit {doc['git']['short']}{' (with uncommitted changes)' if doc['git']['dirty'] else ''}; "
             f"{opts['runs']} run(s) of {opts['duration']} s per cell, medians; raw argon2id verify rate "
             f"{raw['per_second']:.1f}/s on {raw['threads']} threads (m={raw['memory_kib']} KiB, t={raw['iterations']}, "
             f"p={raw['parallelism']})" + (f"; signing {doc['signing']['per_second']:.0f}/s" if doc.get("signing") else "")]
    width = round(max([MARGIN_L + sum(group_widths(args[2])) + MARGIN_R for args, _ in panels] + [1000]))
    parts = [render_panel(*args, **dict(kw, width=width)) for args, kw in panels]
    head_h = 30 + 15 * len(facts) + 22
    height = head_h + sum(h for _, _, h in parts)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}">', f'<rect width="{width}" height="{height}" fill="white"/>',
           text(10, 22, f"gatehouse bench {doc['name']} ({doc['started']}): {heading}", 16, weight="bold")]
    for i, line in enumerate(facts):
        out.append(text(10, 42 + 15 * i, line, 10.5, fill="#555"))
    lx, ly = 10, 42 + 15 * len(facts) + 6
    for _, legend, colour in SERIES:
        out.append(f'<rect x="{lx}" y="{ly - 10}" width="11" height="11" fill="{colour}"/>')
        out.append(text(lx + 15, ly, legend, 11))
        lx += 7 * len(legend) + 40
    y = head_h
    for frags, _, h in parts:
        out.append(f'<g transform="translate(0 {y})">')
        out += frags
        out.append("</g>")
        y += h
    out.append("</svg>")
    return "\n".join(out) + "\n"


def rows_by(doc):
    return {(r["server"], r["case"], r.get("conns")): r for r in doc["rows"]}


def present_cases(doc):
    """(case, label, conns) of every case with a row of some server, in CASES order."""
    have = {(r["case"], r.get("conns")) for r in doc["rows"]}
    conns = sorted({c for _, c in have if c is not None and c < 1000})
    return [(case, label, c) for case, label in CASES for c in conns if (case, c) in have]


def per_case(doc, value):
    by = rows_by(doc)
    cells = present_cases(doc)
    groups = [(label, f"c={c}") for _, label, c in cells]
    values = [[value(by.get((s, case, c))) for s, _, _ in SERIES] for case, _, c in cells]
    return groups, values


def ok_rate(r):
    if r is None:
        return None
    return r.get("ok_rps", r.get("rps"))


def p99(r):
    if r is None:
        return None
    # The honour-Retry-After rows time accepted answers only; the others every answer.
    return r.get("ok_p99_ms") if "ok_p99_ms" in r else r.get("p99_ms")


def throughput_svg(doc):
    groups, values = per_case(doc, ok_rate)
    raw = doc["argon2"]["used"]["per_second"]
    a = panel("Successful answers per second (log scale)",
              "Password grant: tokens/s (200 with a token); shed 503s not counted. Gatehouse queues a burst, "
              "sheds a standing queue and holds each shed answer; the peer queues every request.", groups, values, True, "answers/s")
    by = rows_by(doc)
    pgroups, pvalues = [], []
    for case, label, c in present_cases(doc):
        if case.startswith("password"):
            pgroups.append((label, f"c={c}"))
            pvalues.append([None if by.get((s, case, c)) is None else 100 * ok_rate(by[(s, case, c)]) / raw
                            for s, _, _ in SERIES])
    over = [(s, by.get((s, "overload", None))) for s, _, _ in SERIES]
    if any(r for _, r in over):
        sat = next(r for _, r in over if r)
        for key, label, conns in (("sat_rps", "saturation (retry at once)", sat["sat_conns"]),
                                  ("over_ok_rps", "4x saturation (retry at once)", sat["over_conns"]),
                                  ("polite_ok_rps", "4x saturation (honour Retry-After)", sat["over_conns"])):
            pgroups.append((label, f"c={conns}"))
            pvalues.append([None if r is None else 100 * r[key] / raw for _, r in over])
    target = 100 * doc["targets"]["password_of_raw_min"]
    b = panel(f"Password grant: tokens/s as % of the raw argon2id verify rate ({raw:.1f}/s, same run)",
              "Target (issue 18): at least 90 % with clients retrying at once, at c=16 and c=64, and above the peer.",
              pgroups, pvalues, False, "% of raw rate", [(target, f"target {target:.0f} %")], pct=True)
    return svg(doc, "throughput", [a, b])


def p99_svg(doc):
    groups, values = per_case(doc, p99)
    a = panel("p99 latency per case, ms (log scale)",
              "Password (retry at once): every answer, 503s included; password (honour Retry-After): accepted "
              "answers only; the peer queues, so its p99 is its queue.", groups, values, True, "ms")
    by = rows_by(doc)
    ogroups, ovalues = [], []
    for clients, key in (("clients retry at once", "over_ok_p99_ms"), ("clients honour Retry-After", "polite_ok_p99_ms")):
        rs = [by.get((s, "overload", None)) for s, _, _ in SERIES]
        if any(rs):
            conns = next(r for r in rs if r)["over_conns"]
            ogroups.append((f"overload ({clients})", f"c={conns}"))
            ovalues.append([None if r is None or not r["sat_p99_ms"] else r[key] / r["sat_p99_ms"] for r in rs])
    parts = [a]
    if ogroups:
        t = doc["targets"]["overload_p99_ratio_max"]
        parts.append(panel("Overload at 4x saturation: accepted p99 / saturation p99",
                           "Saturation: one connection per hash worker. Target (issue 18): at most 2x with clients "
                           "retrying at once.", ogroups, ovalues, False, "ratio", [(t, f"target {t:g}x")]))
    return svg(doc, "p99 latency", parts)


def memory_svg(doc):
    by = rows_by(doc)
    groups, values = [], []
    start = [by.get((s, "startup", None)) for s, _, _ in SERIES]
    if any(start):
        groups.append(("idle (after start)", ""))
        values.append([None if r is None else r["idle_rss_mib"] for r in start])
    for case, label, c in present_cases(doc):
        groups.append((label, f"c={c}"))
        values.append([None if by.get((s, case, c)) is None else by[(s, case, c)]["peak_rss_mib"]
                       for s, _, _ in SERIES])
    over = [by.get((s, "overload", None)) for s, _, _ in SERIES]
    if any(over):
        groups.append(("overload (retry at once)", f"c={next(r for r in over if r)['over_conns']}"))
        values.append([None if r is None else r["over_peak_rss_mib"] for r in over])
    idle = [by.get((s, "idle connections", 1000)) for s, _, _ in SERIES]
    if any(idle):
        groups.append(("1,000 open (idle connections)", "c=1000"))
        values.append([None if r is None else r["rss_open_mib"] for r in idle])
    t = doc["targets"]["peak_rss_mib_max"]
    a = panel("Peak RSS of the server process, MiB", "Sampled every 0.2 s during each cell (VmRSS); cells run in "
              "this order on one server process per back end; the last group is after the whole run.",
              groups, values, False, "MiB", [(t, f"target < {t} MiB")])
    return svg(doc, "memory", [a])


def draw(doc, stem):
    """Writes STEM-throughput.svg, STEM-p99.svg and STEM-memory.svg; returns their paths."""
    paths = []
    for kind, fn in (("throughput", throughput_svg), ("p99", p99_svg), ("memory", memory_svg)):
        path = f"{stem}-{kind}.svg"
        with open(path, "w") as f:
            f.write(fn(doc))
        paths.append(path)
    return paths


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        sys.exit(__doc__)
    for path in sys.argv[1:]:
        with open(path) as f:
            doc = json.load(f)
        for p in draw(doc, os.path.splitext(path)[0]):
            print(p)


if __name__ == "__main__":
    main()
