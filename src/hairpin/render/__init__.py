"""Pictures of traces: sequence diagrams (SVG), the self-contained HTML report, charts and pcapng export.

Every face of hairpin (simulator, tracer, lab, pcap analyser) produces lists of hops
(``hairpin.model.hop.Hop``), so one set of renderers draws them all:

- ``diagram``: the layout of a sequence diagram as plain data (lanes, arrows, notes, gaps);
- ``svg``: that layout drawn as standalone SVG (``sequence_svg(hops, title=...)``);
- ``chart``: the timeout rate against nodes / AZs / cross-zone, simulated and closed-form;
- ``html``: one self-contained HTML report of a simulator run (``report(run)``);
- ``pcap``: a run's packets as pcapng with one interface per place (``write_run(run, path)``);
- ``text``: terminal tables in a wide or a stacked layout, whichever fits the width (``fitting``).
"""
