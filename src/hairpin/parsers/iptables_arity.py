"""How many values each option of the common iptables extensions takes, and whether ``!`` may precede it.

iptables reads a rule's words with ``getopt_long``: an option that takes a value takes the next word,
whatever it is (``--comment -j`` is a comment ``-j``); an option that takes none takes nothing, and a word
no option took is "Bad argument `WORD'".  A few options take a second word themselves, which must not start
with ``-`` or ``!`` ("--match-set requires two args.").  ``! --opt`` is refused for an option that cannot
be inverted ('comment: option "--comment" cannot be inverted.'); ``--opt ! value`` is not a negation for
an extension's option: ``!`` is its value.

Sources: iptables 1.8.9: the iptables-extensions(8) man page of that version (each option's ``[!]`` and
value placeholders); the option tables of its ``extensions/libxt_*.c`` and ``libipt_*.c``
(``xt_option_entry``: ``XTTYPE_NONE`` takes no value, every other type one, ``XTOPT_INVERT`` allows ``!``;
libxtables' ``xtables_options_xfrm`` makes the getopt table from them, ``xtables_option_parse`` refuses a
``!`` or a missing value); the extensions still parsed by hand (tcp ``--tcp-flags``, sctp ``--chunk-types``,
set ``--match-set``, SET ``--add-set``/``--del-set``/``--map-set``) read their second word from
``argv[optind]``, and SET ignores a ``!``.  Every entry is checked against ``iptables-nft-restore --test``
(iptables 1.8.9, nf_tables): the option given its values, one more, one fewer and ``!`` (see
``tests/test_iptables_arity.py``), which is what settles each fact here.  Options of extensions not
listed are taken as written; an option a listed extension does not have is read by ``iptables_getopt``
(another match's, a prefix, or refused as iptables refuses it).
"""

from __future__ import annotations

__all__ = ["OPTIONS", "spec"]

_NONE, _ONE, _TWO = 0, 1, 2


def _opts(*groups: tuple[int, bool, str]) -> dict[str, tuple[int, bool]]:
    return {name: (n, inv) for n, inv, names in groups for name in names.split()}


# fmt: off
#: extension (match module or target) -> option -> (values it takes, may be negated with ``!``)
OPTIONS: dict[str, dict[str, tuple[int, bool]]] = {
    # matches
    "comment": _opts((_ONE, False, "--comment")),
    "tcp": _opts((_ONE, True, "--sport --source-port --dport --destination-port --tcp-option"),
                 (_TWO, True, "--tcp-flags"), (_NONE, True, "--syn")),
    "udp": _opts((_ONE, True, "--sport --source-port --dport --destination-port")),
    "sctp": _opts((_ONE, True, "--sport --source-port --dport --destination-port"), (_TWO, True, "--chunk-types")),
    "multiport": _opts((_ONE, True, "--sports --source-ports --dports --destination-ports --ports")),
    "mark": _opts((_ONE, True, "--mark")),
    "connmark": _opts((_ONE, True, "--mark")),
    "conntrack": _opts((_ONE, True, "--ctstate --ctproto --ctorigsrc --ctorigdst --ctreplsrc --ctrepldst "
                        "--ctorigsrcport --ctorigdstport --ctreplsrcport --ctrepldstport --ctstatus --ctexpire"),
                       (_ONE, False, "--ctdir")),
    "state": _opts((_ONE, True, "--state")),
    "statistic": _opts((_ONE, False, "--mode --packet"), (_ONE, True, "--probability --every")),
    "addrtype": _opts((_ONE, True, "--src-type --dst-type"), (_NONE, False, "--limit-iface-in --limit-iface-out")),
    "recent": _opts((_NONE, True, "--set --rcheck --update --remove"), (_NONE, False, "--rsource --rdest --reap --rttl"),
                    (_ONE, False, "--name --mask --seconds --hitcount")),
    "set": _opts((_TWO, True, "--match-set"), (_NONE, False, "--return-nomatch"),
                 (_NONE, True, "--update-counters --update-subcounters"),
                 (_ONE, True, "--packets-eq --bytes-eq"),
                 (_ONE, False, "--packets-lt --packets-gt --bytes-lt --bytes-gt")),
    "physdev": _opts((_ONE, True, "--physdev-in --physdev-out"),
                     (_NONE, True, "--physdev-is-in --physdev-is-out --physdev-is-bridged")),
    "ipvs": _opts((_NONE, True, "--ipvs"), (_ONE, True, "--vproto --vaddr --vport --vmethod --vportctl"),
                  (_ONE, False, "--vdir")),
    "owner": _opts((_ONE, True, "--uid-owner --gid-owner"), (_NONE, True, "--socket-exists"),
                   (_NONE, False, "--suppl-groups")),
    "socket": _opts((_NONE, False, "--transparent --nowildcard --restore-skmark")),
    "rpfilter": _opts((_NONE, False, "--loose --validmark --accept-local --invert")),
    "limit": _opts((_ONE, False, "--limit --limit-burst")),
    "hashlimit": _opts((_ONE, True, "--hashlimit-upto --hashlimit-above"), (_ONE, False, "--hashlimit-burst --hashlimit-mode "
                        "--hashlimit-srcmask --hashlimit-dstmask --hashlimit-name --hashlimit-htable-size "
                        "--hashlimit-htable-max --hashlimit-htable-expire --hashlimit-htable-gcinterval "
                        "--hashlimit-rate-interval"), (_NONE, False, "--hashlimit-rate-match")),
    "mac": _opts((_ONE, True, "--mac-source")),
    "iprange": _opts((_ONE, True, "--src-range --dst-range")),
    "length": _opts((_ONE, True, "--length")),
    "string": _opts((_ONE, False, "--algo --from --to"), (_ONE, True, "--string --hex-string"),
                    (_NONE, False, "--icase")),
    "icmp": _opts((_ONE, True, "--icmp-type")),
    "pkttype": _opts((_ONE, True, "--pkt-type")),
    # targets
    "DNAT": _opts((_ONE, False, "--to-destination"), (_NONE, False, "--random --persistent")),
    "SNAT": _opts((_ONE, False, "--to-source"), (_NONE, False, "--random --random-fully --persistent")),
    "MASQUERADE": _opts((_ONE, False, "--to-ports"), (_NONE, False, "--random --random-fully")),
    "REDIRECT": _opts((_ONE, False, "--to-ports"), (_NONE, False, "--random")),
    "MARK": _opts((_ONE, False, "--set-xmark --set-mark --and-mark --or-mark --xor-mark")),
    "CONNMARK": _opts((_ONE, False, "--set-xmark --set-mark --and-mark --or-mark --xor-mark --nfmask --ctmask "
                       "--mask"), (_NONE, False, "--save-mark --restore-mark")),
    "REJECT": _opts((_ONE, False, "--reject-with")),
    "LOG": _opts((_ONE, False, "--log-level --log-prefix"),
                 (_NONE, False, "--log-tcp-sequence --log-tcp-options --log-ip-options --log-uid --log-macdecode")),
    "CT": _opts((_NONE, False, "--notrack"),
                (_ONE, False, "--helper --ctevents --expevents --zone-orig --zone-reply --zone --timeout")),
    "NOTRACK": {},
    "TPROXY": _opts((_ONE, False, "--on-port --on-ip --tproxy-mark")),
    "NFLOG": _opts((_ONE, False, "--nflog-group --nflog-prefix --nflog-range --nflog-size --nflog-threshold")),
    # libxt_SET parses by hand and ignores a "!" before any of its options
    "SET": _opts((_TWO, True, "--add-set --del-set --map-set"), (_ONE, True, "--timeout"),
                 (_NONE, True, "--exist --map-mark --map-prio --map-queue")),
    "CHECKSUM": _opts((_NONE, False, "--checksum-fill")),
    "TCPMSS": _opts((_ONE, False, "--set-mss"), (_NONE, False, "--clamp-mss-to-pmtu")),
}
# fmt: on


def spec(owner: str, option: str) -> tuple[int, bool] | None:
    """(values, may be negated) of ``option`` in the match module or target ``owner``; None if not known."""
    opts = OPTIONS.get(owner)
    return None if opts is None else opts.get(option)
