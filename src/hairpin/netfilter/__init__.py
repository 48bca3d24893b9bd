"""Netfilter as Linux runs it: iptables tables, chains and rules, and their evaluation.

``rules`` holds the rule model (a Ruleset of Tables of Chains of Rules) and ``iptables_save``
(``hairpin.parsers.iptables_save``) reads and writes it as ``iptables-save`` text.  ``evaluate``
walks a packet through one table's chain the way the kernel's ``ipt_do_table`` does, calling back
for random choices so that the simulator can sample them and the tracer can branch on them.
"""

from hairpin.netfilter.rules import Chain, Match, Option, Rule, Ruleset, Table, Target

__all__ = ["Chain", "Match", "Option", "Rule", "Ruleset", "Table", "Target"]
