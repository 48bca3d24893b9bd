"""Rules that use each option ``hairpin.parsers.iptables_arity`` knows, with values ``iptables-nft-restore
--test`` (iptables 1.8.9) accepts, for tests/test_iptables_arity.py.

owner (the part of the key before any "-") -> (table, chain, words before the extension, {option: (its values, companion words)}); a match's rule
is ``-A CHAIN BEFORE -m OWNER OPTION VALUES COMPANION -j ACCEPT`` (the companion goes first when it starts
with "^", as ``--suppl-groups`` needs ``--gid-owner`` before it, and for the set match, which looks its set
up as soon as it reads ``--match-set``), a target's ``-A CHAIN BEFORE -j OWNER COMPANION OPTION VALUES``.
``SET`` is the name of an ipset the test creates (the set match and target refuse a set that does not exist).
"""

from __future__ import annotations

SET = "hairpin-arity-test"
M: dict[str, tuple[str, str, str, dict[str, tuple[str, str]]]] = {
    "comment": ("filter", "INPUT", "", {"--comment": ("a", "")}),
    "tcp": ("filter", "INPUT", "-p tcp", {"--sport": ("1", ""), "--source-port": ("1", ""), "--dport": ("80", ""),
            "--destination-port": ("80:90", ""), "--tcp-option": ("2", ""), "--tcp-flags": ("SYN,ACK SYN", ""),
            "--syn": ("", "")}),
    "udp": ("filter", "INPUT", "-p udp", {"--sport": ("1", ""), "--source-port": ("1", ""), "--dport": ("53", ""),
            "--destination-port": ("53", "")}),
    "sctp": ("filter", "INPUT", "-p sctp", {"--sport": ("1", ""), "--source-port": ("1", ""), "--dport": ("5", ""),
             "--destination-port": ("5", ""), "--chunk-types": ("any INIT", "")}),
    "multiport": ("filter", "INPUT", "-p tcp", {o: ("80,443", "") for o in
                  ("--sports", "--source-ports", "--dports", "--destination-ports", "--ports")}),
    "mark": ("filter", "INPUT", "", {"--mark": ("0x1/0x1", "")}),
    "connmark": ("filter", "INPUT", "", {"--mark": ("0x1", "")}),
    "conntrack": ("filter", "INPUT", "", {"--ctstate": ("NEW", ""), "--ctproto": ("tcp", ""),
                  "--ctorigsrc": ("1.2.3.4", ""), "--ctorigdst": ("1.2.3.0/24", ""), "--ctreplsrc": ("1.2.3.4", ""),
                  "--ctrepldst": ("1.2.3.4", ""), "--ctorigsrcport": ("1", "--ctproto tcp"),
                  "--ctorigdstport": ("1:2", "--ctproto tcp"), "--ctreplsrcport": ("1", "--ctproto tcp"),
                  "--ctrepldstport": ("1", "--ctproto tcp"), "--ctstatus": ("ASSURED", ""),
                  "--ctexpire": ("1:100", ""), "--ctdir": ("ORIGINAL", "--ctstate NEW")}),
    "state": ("filter", "INPUT", "", {"--state": ("NEW,ESTABLISHED", "")}),
    "statistic": ("filter", "INPUT", "", {"--mode": ("random", "--probability 0.5"),
                  "--probability": ("0.5", "--mode random"), "--every": ("2", "--mode nth --packet 0"),
                  "--packet": ("1", "--mode nth --every 2")}),
    "addrtype": ("filter", "INPUT", "", {"--src-type": ("LOCAL", ""), "--dst-type": ("LOCAL", ""),
                 "--limit-iface-in": ("", "--dst-type LOCAL")}),
    "addrtype-out": ("filter", "OUTPUT", "", {"--limit-iface-out": ("", "--dst-type LOCAL")}),
    "recent": ("filter", "INPUT", "", {"--set": ("", ""), "--rcheck": ("", ""), "--update": ("", ""),
               "--remove": ("", ""), "--rsource": ("", "--rcheck"), "--rdest": ("", "--rcheck"),
               "--name": ("r1", "--rcheck"), "--mask": ("255.255.255.0", "--rcheck"),
               "--seconds": ("10", "--rcheck"), "--hitcount": ("2", "--rcheck"),
               "--reap": ("", "--rcheck --seconds 10"), "--rttl": ("", "--rcheck")}),
    "set": ("filter", "INPUT", "", {"--match-set": (f"{SET} src", ""),
            "--return-nomatch": ("", f"^--match-set {SET} src"),
            "--update-counters": ("", f"^--match-set {SET} src"),
            "--update-subcounters": ("", f"^--match-set {SET} src"),
            **{o: ("5", f"^--match-set {SET} src") for o in ("--packets-eq", "--packets-lt", "--packets-gt",
                                                            "--bytes-eq", "--bytes-lt", "--bytes-gt")}}),
    "physdev": ("filter", "FORWARD", "", {"--physdev-in": ("eth0", ""), "--physdev-out": ("eth1", ""),
                "--physdev-is-in": ("", ""), "--physdev-is-out": ("", ""), "--physdev-is-bridged": ("", "")}),
    "owner": ("filter", "OUTPUT", "", {"--uid-owner": ("0", ""), "--gid-owner": ("0-5", ""),
              "--socket-exists": ("", ""), "--suppl-groups": ("", "^--gid-owner 0")}),
    "socket": ("mangle", "PREROUTING", "", {"--transparent": ("", ""), "--nowildcard": ("", ""),
               "--restore-skmark": ("", "")}),
    "rpfilter": ("mangle", "PREROUTING", "", {o: ("", "") for o in
                 ("--loose", "--validmark", "--accept-local", "--invert")}),
    "limit": ("filter", "INPUT", "", {"--limit": ("5/s", ""), "--limit-burst": ("5", "")}),
    "hashlimit": ("filter", "INPUT", "", {"--hashlimit-upto": ("5/s", "--hashlimit-name h1"),
                  "--hashlimit-above": ("5/s", "--hashlimit-name h1"),
                  "--hashlimit-name": ("h1", "--hashlimit-upto 5/s"),
                  **{o: (v, "--hashlimit-name h1 --hashlimit-upto 5/s") for o, v in (
                      ("--hashlimit-burst", "5"), ("--hashlimit-mode", "srcip"),
                      ("--hashlimit-htable-size", "64"), ("--hashlimit-htable-max", "64"),
                      ("--hashlimit-htable-expire", "1000"), ("--hashlimit-htable-gcinterval", "1000"),
                      ("--hashlimit-rate-match", ""))},
                  "--hashlimit-srcmask": ("24", "--hashlimit-name h1 --hashlimit-upto 5/s --hashlimit-mode srcip"),
                  "--hashlimit-dstmask": ("24", "--hashlimit-name h1 --hashlimit-upto 5/s --hashlimit-mode dstip"),
                  "--hashlimit-rate-interval": ("2", "--hashlimit-name h1 --hashlimit-upto 5/s --hashlimit-rate-match")}),
    "mac": ("filter", "INPUT", "", {"--mac-source": ("00:11:22:33:44:55", "")}),
    "iprange": ("filter", "INPUT", "", {"--src-range": ("1.1.1.1-1.1.1.9", ""), "--dst-range": ("1.1.1.1-1.1.1.9", "")}),
    "length": ("filter", "INPUT", "", {"--length": ("10:20", "")}),
    "string": ("filter", "INPUT", "", {"--algo": ("bm", "--string x"), "--from": ("1", "--algo bm --string x"),
               "--to": ("100", "--algo bm --string x"), "--string": ("abc", "--algo bm"),
               "--hex-string": ("|41|", "--algo bm"), "--icase": ("", "--algo bm --string x")}),
    "icmp": ("filter", "INPUT", "-p icmp", {"--icmp-type": ("8", "")}),
    "pkttype": ("filter", "INPUT", "", {"--pkt-type": ("unicast", "")}),
}
T: dict[str, tuple[str, str, str, dict[str, tuple[str, str]]]] = {
    "DNAT": ("nat", "PREROUTING", "-p tcp", {"--to-destination": ("1.2.3.4:80", ""),
             "--random": ("", "--to-destination 1.2.3.4"), "--persistent": ("", "--to-destination 1.2.3.4")}),
    "SNAT": ("nat", "POSTROUTING", "-p tcp", {"--to-source": ("1.2.3.4", ""), **{o: ("", "--to-source 1.2.3.4")
             for o in ("--random", "--random-fully", "--persistent")}}),
    "MASQUERADE": ("nat", "POSTROUTING", "-p tcp", {"--to-ports": ("1000-2000", ""), "--random": ("", ""),
                   "--random-fully": ("", "")}),
    "REDIRECT": ("nat", "PREROUTING", "-p tcp", {"--to-ports": ("8080", ""), "--random": ("", "")}),
    "MARK": ("mangle", "PREROUTING", "", {"--set-xmark": ("0x1/0xff", ""), "--set-mark": ("0x1", ""),
             "--and-mark": ("0x1", ""), "--or-mark": ("0x1", ""), "--xor-mark": ("0x1", "")}),
    "CONNMARK": ("mangle", "PREROUTING", "", {"--set-xmark": ("0x1/0xff", ""), "--set-mark": ("0x1", ""),
                 "--and-mark": ("0x1", ""), "--or-mark": ("0x1", ""), "--xor-mark": ("0x1", ""),
                 "--save-mark": ("", ""), "--restore-mark": ("", ""), "--nfmask": ("0xff", "--save-mark"),
                 "--ctmask": ("0xff", "--restore-mark"), "--mask": ("0xff", "--save-mark")}),
    "REJECT": ("filter", "INPUT", "", {"--reject-with": ("icmp-port-unreachable", "")}),
    "LOG": ("filter", "INPUT", "", {"--log-level": ("4", ""), "--log-prefix": ("p:", ""), **{o: ("", "") for o in
            ("--log-tcp-sequence", "--log-tcp-options", "--log-ip-options", "--log-uid", "--log-macdecode")}}),
    "CT": ("raw", "PREROUTING", "-p tcp", {"--notrack": ("", ""), "--helper": ("ftp", ""), "--ctevents": ("new", ""),
           "--expevents": ("new", ""), "--zone-orig": ("1", ""), "--zone-reply": ("1", ""), "--zone": ("1", ""),
           "--timeout": ("t1", "")}),
    "NOTRACK": ("raw", "PREROUTING", "", {}),
    "TPROXY": ("mangle", "PREROUTING", "-p tcp", {"--on-port": ("1", ""), "--on-ip": ("1.2.3.4", "--on-port 1"),
               "--tproxy-mark": ("0x1/0x1", "--on-port 1")}),
    "NFLOG": ("filter", "INPUT", "", {"--nflog-group": ("1", ""), "--nflog-prefix": ("p", ""),
              "--nflog-range": ("10", ""), "--nflog-size": ("10", ""), "--nflog-threshold": ("2", "")}),
    "SET": ("filter", "INPUT", "", {"--add-set": (f"{SET} src", ""), "--del-set": (f"{SET} src", ""),
            "--map-set": (f"{SET} src", "--map-mark"), "--timeout": ("5", f"--add-set {SET} src"),
            "--exist": ("", f"--add-set {SET} src"), "--map-mark": ("", f"--map-set {SET} src"),
            "--map-prio": ("", f"--map-set {SET} src"), "--map-queue": ("", f"--map-set {SET} src")}),
    "CHECKSUM": ("mangle", "POSTROUTING", "-p udp", {"--checksum-fill": ("", "")}),
    "TCPMSS": ("mangle", "FORWARD", "-p tcp --tcp-flags SYN,RST SYN", {"--set-mss": ("1400", ""),
               "--clamp-mss-to-pmtu": ("", "")}),
}
