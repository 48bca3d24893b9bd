"""Pictures of an analysed capture: each failed attempt as a sequence diagram, and one HTML report.

A capture shows packets, not the rules that moved them, so the diagram has one lane per party the
packets name (the client, the address it called, the node that answered, the backend, anyone else by
address) and one arrow per distinct packet: the views of one packet on several interfaces
(``tcpdump -i any``) are drawn once, at the first interface that saw it, which the arrow's tooltip names.
The seed's asymmetric return (a SYN-ACK to the client from an address it did not call) is drawn in the
hairpin style by the shared layout (``hairpin.render.diagram``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hairpin.model.hop import Hop
from hairpin.model.net import ip_str
from hairpin.render import html, svg
from hairpin.render.markup import escape

if TYPE_CHECKING:
    from hairpin.diagnose.capture import Analysis, Attempt

__all__ = ["LEGEND", "hops", "report", "sequence_svg"]

VIEW_WINDOW = 0.2


def _lanes(a: Attempt) -> dict[int, tuple[str, str]]:
    out = {a.client.addr: ("client", a.client.ip), a.called.addr: ("called", str(a.called))}
    if a.answered_by is not None:
        out.setdefault(a.answered_by.addr, ("node", a.answered_by.ip))
    if a.backend is not None:
        out.setdefault(a.backend.addr, ("backend", a.backend.ip))
    return out


LEGEND = (
    "thick red: the failing return path (SYN-ACK from an address the client did not call); dashed orange: RST; "
    "time in seconds from the attempt's first packet on the left; hover an arrow for where it was seen"
)


def hops(a: Attempt) -> tuple[list[Hop], list[tuple[str, str]]]:
    """The attempt's distinct packets as send/deliver hop pairs, and the (lane, label) order; times are
    seconds from the attempt's first packet (the capture's own clock is in the title)."""
    lanes = _lanes(a)
    t0 = min((r.t for r in a.records), default=0.0)
    seen: dict[tuple[int, int, int, int, int, int], float] = {}
    out: list[Hop] = []
    for r in sorted(a.records, key=lambda r: r.t):
        p = r.packet
        key = (p.src, p.sport, p.dst, p.dport, int(p.flags), p.seq)
        if key in seen and r.t - seen[key] < VIEW_WINDOW:
            continue
        seen[key] = r.t
        for addr in (p.src, p.dst):
            lanes.setdefault(addr, (ip_str(addr), ip_str(addr)))
        where = r.interface or "capture"
        note = f"seen on {where}" + (f": {r.comment}" if r.comment else "")
        t = r.t - t0
        out.append(Hop(t, f"{lanes[p.src][0]} {where}", p, note, "send", 0, lanes[p.src][0]))
        out.append(Hop(t + 1e-7, f"{lanes[p.dst][0]} {where}", p, "", "deliver", 0, lanes[p.dst][0]))
    return out, list(lanes.values())


def sequence_svg(a: Attempt, *, id_prefix: str = "cap") -> str:
    """One attempt as a standalone SVG sequence diagram."""
    hs, lanes = hops(a)
    title = f"{a.kind} {a.client} -> {a.called}" + (f", answered by {a.answered_by}" if a.answered_by else "")
    if a.records:
        first = min(r.t for r in a.records)
        when = datetime.fromtimestamp(first, tz=UTC).isoformat(timespec="microseconds")
        title += f" (t=0: {when.replace('+00:00', 'Z')})"
    return svg.sequence_svg(hs, title=title, lanes=lanes, fold=True, id_prefix=id_prefix, legend=LEGEND)


def _e(v: object) -> str:
    return escape(str(v), quote=True)


def report(analysis: Analysis, *, title: str = "hairpin pcap") -> str:
    """The analysis as one self-contained HTML document: counts, the hairpins table, the diagrams of the
    first hairpin and the first other failure, and the files with where reading stopped."""
    s = analysis.to_json()["summary"]
    rows = "".join(
        f"<tr class='hairpin'><td class='pkt'>{_e(a.client)}</td><td class='pkt'>{_e(a.called)}</td>"
        f"<td class='pkt'>{_e(a.answered_by)}</td><td class='pkt'>{_e(a.backend or '')}</td>"
        + "".join(f"<td class='n'>{_e(c)}</td>" for c in a.cells())
        + f"<td>{'yes' if a.gave_up else 'no'}</td></tr>"
        for a in analysis.hairpins
    )
    files = "".join(
        f"<tr><td class='pkt'>{_e(f.file)}</td><td>{_e(f.format)}</td><td class='n'>{f.tcp}</td>"
        f"<td class='n'>{f.skipped}{_e(f' ({f.skipped_text()})' if f.skipped else '')}</td>"
        f"<td>{_e(('error: ' + f.error) if f.error else f.damage or 'read to the end')}</td></tr>"
        for f in analysis.files
    )
    others = ", ".join(f"{k}: {v}" for k, v in s["other_failures"].items()) or "none"
    body = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="rate"><span class="{"bad" if analysis.hairpins else "good"}" id="hairpins">'
        f"{analysis.hairpin_count} hairpinned connection{'s' if analysis.hairpin_count != 1 else ''}</span> "
        f"of {analysis.connections} in {analysis.packets} TCP packets; other failures: {_e(others)}; "
        f"healthy: {analysis.healthy}"
        + (f"; answers to SYNs not in the capture: {analysis.no_syn}" if analysis.no_syn else "")
        + (f"; SYN series begun before the capture: {analysis.before_capture}" if analysis.before_capture else "")
        + ".</p>",
        "<section id='hairpins-table'><h2>Hairpinned connections</h2><table><tr><th>client</th><th>called</th>"
        "<th>answered by</th><th>backend</th><th>SYN retransmits</th><th>lost (s)</th><th>gave up</th></tr>"
        f"{rows}</table></section>",
    ]
    if analysis.hairpins:
        a = analysis.hairpins[0]
        body.append(f'<section id="failed"><h2>The first hairpin</h2><div class="pic diagram">'
                    f"{sequence_svg(a, id_prefix='h')}</div></section>")  # fmt: skip
    if analysis.others:
        a = analysis.others[0]
        body.append(f'<section id="other"><h2>The first other failure ({_e(a.kind)})</h2><div class="pic diagram">'
                    f"{sequence_svg(a, id_prefix='o')}</div></section>")  # fmt: skip
    body.append("<section id='files'><h2>Files</h2><table><tr><th>file</th><th>format</th><th>TCP packets</th>"
                f"<th>other frames</th><th>reading</th></tr>{files}</table></section>")  # fmt: skip
    body.append("<footer>Generated by hairpin pcap. Self-contained: inline SVG and CSS, nothing fetched.</footer>")
    return html.page(title, body)
