"""A node's state file as people paste it from a terminal: a shell prompt line is refused, never read as data.

What this module knows:

- A copied terminal often keeps the prompt and the command above the output (``root@node:~# ip route``,
  Amazon Linux's ``[root@ip-192-168-2-3 ~]# iptables-save``, busybox's ``/ # conntrack -L`` under ``kubectl
  debug``, ``$ iptables -t nat -S``) or a bare prompt below it.  Read as data, such a line was taken for
  something else: ``ip route`` counted ``root@node:~# ip route`` as an IPv6 route and skipped it, a line
  starting with ``[`` made the file JSON, and ``--node DIR`` left a file it could not name unread.  None of
  the outputs hairpin reads (iptables-save and ``-S``, iproute2, nft, conntrack, ipset, ipvsadm, ss) starts a
  line with ``user@host`` followed by ``#`` or ``$``, with ``[user@host ...]#``, ``sh-5.2#`` or ``/ #``, or
  with ``$`` and a command name, so such a line is refused with its line number: one line, exit 2.
- A line starting with ``#`` alone is not a prompt here: it is a comment in iptables-save, and the other
  readers skip it as one.
"""

from __future__ import annotations

import re
from pathlib import Path

from hairpin import reading
from hairpin.errors import ParseError

__all__ = ["find_prompt", "prompt_error", "read_state", "refuse_prompt", "without_prompts"]

#: the commands whose output hairpin reads, and what people put before them
_COMMANDS = r"(?:sudo\s+)?(?:iptables|ip6tables|ip|nft|conntrack|ipset|ipvsadm|ss|route|cat|kubectl)\b"
_PROMPT = re.compile(
    r"^(?:"
    r"[\w.-]+@[\w.-]+(?::[^\s#$]*)?\s?[#$](?:[ \t]|$)"  # user@host:~# , user@host:/path$
    r"|\[[\w.-]+@[^\]\n]*\][#$](?:[ \t]|$)"  # [root@ip-192-168-2-3 ~]# (Amazon Linux, RHEL)
    r"|(?:ba|z)?sh-[\d.]+[#$](?:[ \t]|$)"  # sh-5.2# , bash-5.1$
    r"|/[\w./-]*[ \t]#(?:[ \t]|$)"  # busybox's "/ # " (kubectl debug)
    r"|\$[ \t]+"
    + _COMMANDS  # $ iptables -t nat -S
    + r")",
    re.M,
)
_PROMPT_LINE = re.compile(f"(?:{_PROMPT.pattern})[^\n]*", re.M)


def find_prompt(text: str) -> tuple[int, str] | None:
    """The first shell prompt line in ``text``: its line number (1-based) and its text, or None."""
    m = _PROMPT.search(text)
    if m is None:
        return None
    start = text.rfind("\n", 0, m.start()) + 1
    end = text.find("\n", m.start())
    return text.count("\n", 0, m.start()) + 1, text[start : end if end >= 0 else len(text)].rstrip("\r")


def without_prompts(text: str) -> str:
    """``text`` with its shell prompt lines emptied (the line numbers kept): what the file would be without them."""
    return _PROMPT_LINE.sub("", text)


def prompt_error(text: str, file: str | None) -> ParseError | None:
    """The ParseError for the first shell prompt line of ``text``, or None when it has none."""
    found = find_prompt(text)
    if found is None:
        return None
    line, shown = found
    return ParseError(f"a shell prompt, not the command's output ({reading.excerpt(shown)}): remove it and keep "
                      "only what the command printed", file, line)  # fmt: skip


def refuse_prompt(text: str, file: str | None) -> None:
    """One ParseError at the first shell prompt line, if there is one."""
    err = prompt_error(text, file)
    if err is not None:
        raise err


def read_state(path: str | Path) -> str:
    """A node state file's text, read through ``hairpin.reading`` (bounded, UTF-8), without a shell prompt."""
    text = reading.read_text(path)
    refuse_prompt(text, str(path))
    return text
