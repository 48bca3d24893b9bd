"""Readers and writers for the text and files users already have.

Each module parses one format into hairpin's model and writes it back: ``iptables_save``
(``iptables-save`` output), and more as they are added (routes, manifests, pcap).
Every parse error is a ``hairpin.errors.ParseError`` naming the file and line.
"""
