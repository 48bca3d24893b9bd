"""Getting a node's state in one step, and reading it back: the read-only commands ``hairpin collect`` prints
(or runs), the ``kubectl debug node/NAME`` one-liner that streams them back as a tarball, and the bundles
``trace --node`` reads (a directory, a tarball, or a Microsoft Retina capture).

A Retina capture (``kubectl retina capture create``; microsoft/retina pkg/capture/provider/
network_capture_unix.go) is a directory, usually tarred, holding the pcap and metadata files; two of them
carry the node's state: ``ip-resources.txt`` (``ip -d -j addr show``, ``ip -d -j neighbor show``, ``ip rule
list``, ``ip route show table all``) and ``iptables-rules.txt`` (``iptables-save``, then ``iptables -vnx -L``
for three tables).  Each file starts with ``Summary:`` and one ``COMMAND(description)`` line per command,
then ``Execute:`` and, per command, the command line, a blank line and its output.  The sections are cut at
those command lines and read like the files ``collect`` writes.
"""

from __future__ import annotations

import io
import re
import shlex
import subprocess
import tarfile
from pathlib import Path

from hairpin.archive import compressed, decompress_into, is_tar, read_members
from hairpin.errors import InputError
from hairpin.reading import files_under, read_bytes

__all__ = [
    "CAPTURE_MAGICS", "COMMANDS", "capture_files", "debug_one_liner", "is_bundle", "materialize", "run_commands",
    "script", "split_retina",
]  # fmt: skip

#: file name -> (command, required).  Read-only: each prints state, none changes it.
COMMANDS: dict[str, tuple[tuple[str, ...], bool]] = {
    "iptables-save": (("iptables-save",), True),
    "ip-route": (("ip", "-4", "route", "show", "table", "all"), True),
    "ip-rule": (("ip", "-4", "rule", "show"), True),
    # -d: each device's kind (a tunnel's VNI and port: hairpin.parsers.linkinfo); every ip addr reader skips those lines
    "ip-addr": (("ip", "-d", "addr", "show"), True),
    # the legacy backend's tables when the node has any besides iptables-nft's (trace reads both): kept only when
    # the tool exists and prints something (no legacy table: nothing)
    "iptables-legacy-save": (("iptables-legacy-save",), False),
    # the IPv6 state, for IPv6 packets (trace --node reads these names): kept only when printed (a node with IPv6
    # off, or no ip6tables table, has none)
    "ip6tables-save": (("ip6tables-save",), False),
    "ip6tables-legacy-save": (("ip6tables-legacy-save",), False),
    "ip6-route": (("ip", "-6", "route", "show", "table", "all"), False),
    "ip6-rule": (("ip", "-6", "rule", "show"), False),
    "ss": (("ss", "-ltnu"), False),
    "ipset-save": (("ipset", "save"), False),
    "ipvsadm": (("ipvsadm", "-Sn"), False),
    "nft-ruleset": (("nft", "list", "ruleset"), False),
    "conntrack": (("conntrack", "-L"), False),
    "conntrack6": (("conntrack", "-L", "-f", "ipv6"), False),
}
#: optional files kept only when their command prints something
_KEPT_WHEN_PRINTED = frozenset({"iptables-legacy-save", "ip6tables-save", "ip6tables-legacy-save", "ip6-route",
                                "ip6-rule", "conntrack6"})  # fmt: skip


def script() -> str:
    """The commands as a shell script that writes one file each into the current directory."""
    lines = ["# run on the node as root (read-only); then: hairpin trace --node . PACKET"]
    for name, (cmd, required) in COMMANDS.items():
        line = _step(name, cmd)
        lines.append(line if required else f"{line} 2>/dev/null || rm -f {name}")
    return "\n".join(lines) + "\n"


def _step(name: str, cmd: tuple[str, ...]) -> str:
    """The shell step that writes ``name``: the command's stdout, and for iptables-save also its stderr
    comments at the head of the file (iptables-nft-save 1.8.x says "# Warning: iptables-legacy tables
    present, use iptables-legacy-save to see them" on stderr: trace warns about it when the file holds
    it).  Its other stderr lines still reach the terminal, and the step fails when the command does.
    ``cmd`` may start with ``chroot /host`` (the one-liner: the node's tool, run from the debug container)."""
    if name in _KEPT_WHEN_PRINTED:  # empty when the node has no legacy table, no IPv6...: not kept
        return f"{{ {shlex.join(cmd)} > {name} && test -s {name}; }}"
    if name != "iptables-save":
        return f"{shlex.join(cmd)} > {name}"
    out, err = f"{name}.out", f"{name}.err"
    return (f'{shlex.join(cmd)} > {out} 2> {err}; r=$?; {{ grep -v "^#" {err} >&2; grep "^#" {err}; cat {out}; }}'
            f" > {name}; rm -f {out} {err}; test $r = 0")  # fmt: skip


#: a node's name, as the API server accepts it: a DNS subdomain (RFC 1123: lower-case letters, digits, ``-`` and
#: ``.``, starting and ending with a letter or digit, at most 253 characters; k8s.io/apimachinery
#: ``validation.IsDNS1123Subdomain``, which Node names are held to)
_NODE_NAME = re.compile(r"[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?")
#: an image reference as the one-liner takes it: the characters of distribution/reference's grammar (a registry
#: host and port, a path, a tag, a digest), at most 4,096 of them; quoted for the shell in any case
_IMAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,4095}")
#: the debug container's image: busybox, as Docker Hub and its mirrors name it (its shell, mktemp, grep, tar)
DEBUG_IMAGE = "busybox"


def debug_one_liner(node: str, image: str = DEBUG_IMAGE) -> str:
    """``kubectl debug node/NODE`` that runs each command with the node's own tool (``chroot /host TOOL``) and
    streams the files back as a gzipped tarball on stdout; ``image``: the debug container's (a busybox: a
    mirror of it where Docker Hub cannot be reached).  A name that is no node's name, or an image reference
    with characters no reference holds, is one InputError: the line is meant to be pasted into a shell.

    Only the tools themselves come from the node: the shell, ``mktemp``, ``grep``, ``cat``, ``rm`` and ``tar``
    that write the files are the debug container's (busybox), so the one-liner needs no shell on the node.
    Bottlerocket has none (``chroot /host sh`` fails there: bottlerocket-os/bottlerocket issue 4011) but ships
    ``iptables-save``, ``ip``, ``ss`` and ``conntrack`` (bottlerocket-core-kit packages/iptables,
    packages/iproute, packages/conntrack-tools); Amazon Linux 2023 has both."""
    if not _NODE_NAME.fullmatch(node):
        raise InputError(f"--node {node[:80]!r} is not a Kubernetes node name (lower-case letters, digits, '-' and "
                         "'.', starting and ending with a letter or digit, at most 253 characters)")  # fmt: skip
    if not _IMAGE.fullmatch(image):
        raise InputError(f"--image {image[:80]!r} is not an image reference (such as busybox, "
                         "public.ecr.aws/docker/library/busybox:1.37 or registry.example:5000/busybox@sha256:...)")  # fmt: skip
    steps = []
    for name, (cmd, required) in COMMANDS.items():
        step = _step(name, ("chroot", "/host", *cmd))
        if not required:
            step = f"{{ {step} 2>/dev/null || rm -f {name}; }}"
        steps.append(f"{{ {step}; }}" if ";" in step and not step.startswith("{") else step)
    inner = ('d=$(mktemp -d) && cd "$d" && ' + " && ".join(steps) +
             ' && tar czf - . && cd / && rm -rf "$d"')  # fmt: skip
    return (f"kubectl debug node/{node} -q -i --profile=sysadmin --image={shlex.quote(image)} -- sh -c "
            f"{shlex.quote(inner)} > {node}.tgz")  # fmt: skip


def run_commands() -> dict[str, bytes]:
    """Run the commands here (on the node); a required command that fails is one InputError."""
    out: dict[str, bytes] = {}
    for name, (cmd, required) in COMMANDS.items():
        try:
            res = subprocess.run(list(cmd), capture_output=True, check=False, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            if required:
                raise InputError(f"{shlex.join(cmd)}: {e}") from None
            continue
        if res.returncode != 0:
            if required:
                err = res.stderr.decode(errors="replace").strip().splitlines()
                raise InputError(f"{shlex.join(cmd)} failed (exit {res.returncode}): {err[0] if err else ''}")
            continue
        if name in _KEPT_WHEN_PRINTED and not res.stdout.strip():
            continue  # no legacy table, no IPv6
        out[name] = res.stdout
        if name == "iptables-save":  # its comments on stderr ("iptables-legacy tables present") kept first
            notes = [ln for ln in res.stderr.splitlines(keepends=True) if ln.startswith(b"#")]
            out[name] = b"".join(ln if ln.endswith(b"\n") else ln + b"\n" for ln in notes) + res.stdout
    return out


def tarball(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def materialize(path: Path, workdir: Path) -> Path:
    """A directory of node files for ``path``: the directory itself, a tarball's regular files (names
    flattened, sizes bounded), and a Retina capture's metadata cut into one file per command."""
    if path.is_dir():
        if (path / "ip-resources.txt").is_file() or (path / "iptables-rules.txt").is_file():
            split_retina({n: read_bytes(path / n) for n in ("ip-resources.txt", "iptables-rules.txt")
                          if (path / n).is_file()}, workdir)  # fmt: skip
            return workdir
        return path
    if not path.is_file():
        raise InputError("no such file or directory", str(path))
    files = _one_node(path, read_members(path))
    if "ip-resources.txt" in files or "iptables-rules.txt" in files:
        split_retina(files, workdir)
    else:
        for i, (name, data) in enumerate(files.items()):
            _copy(path, workdir, name, i, data)
    return workdir


def _one_node(bundle: Path, members: list[tuple[str, str, bytes]]) -> dict[str, bytes]:
    """A tarball's members by base name, refused in one line when two share one: a bundle is one node's state,
    each file once (``collect`` writes each name once), and a tarball of several nodes' directories (``tar czf
    nodes.tgz nodes/``) would otherwise be read as one node, each file from whichever node came first."""
    files: dict[str, bytes] = {}
    where: dict[str, str] = {}
    for name, base, data in members:
        if base in files:
            raise InputError(f"two members named {base[:60]} ({where[base][:100]} and {name[:100]}): trace reads one "
                             "node's files, each once (a tarball of several nodes? give one node's directory or "
                             "tarball)", str(bundle))  # fmt: skip
        files[base], where[base] = data, name
    return files


def _copy(bundle: Path, workdir: Path, name: str, i: int, data: bytes) -> Path:
    """A member of ``bundle`` written into ``workdir``: by its name, or ``member-N`` when the name is longer
    than a file name may be (255 bytes: it was an OSError traceback); a write that fails is one InputError."""
    target = workdir / (name if len(name.encode()) <= 255 else f"member-{i}")
    try:
        target.write_bytes(data)
    except OSError as e:
        raise InputError(f"cannot write a temporary copy of member {name[:60]!r}: {e.strerror or e}",
                         str(bundle)) from None  # fmt: skip
    return target


#: the first four bytes of pcap (both byte orders, micro- and nanoseconds) and pcapng files
CAPTURE_MAGICS = (b"\xa1\xb2\xc3\xd4", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x4d\x3c\xb2\xa1",
                  b"\x0a\x0d\x0d\x0a")  # fmt: skip


def is_bundle(path: Path) -> bool:
    """A directory, a tarball (a Retina capture, a ``collect`` tarball) or a compressed capture (gzip, bzip2,
    xz: ``capture.pcap.gz``), as opposed to one capture file read where it is."""
    if path.is_dir():
        return True
    if not path.is_file():
        return False
    try:
        with path.open("rb") as f:
            if f.read(4) in CAPTURE_MAGICS:
                return False
        return is_tar(path) or compressed(path) is not None
    except OSError:
        return False


def capture_files(path: Path, workdir: Path) -> list[tuple[Path, str]]:
    """The pcap and pcapng files in a bundle (found by content, not by name), each as (a file to read, the
    name to show: ``BUNDLE:MEMBER``; a compressed capture: the file decompressed, shown by its own name).  A directory's files are read in place; a tarball's are written
    into ``workdir`` (sizes and member count bounded as for ``materialize``).  None found: InputError."""
    out: list[tuple[Path, str]] = []
    if path.is_dir():
        for f in sorted(p for p in files_under(path) if p.is_file()):
            try:
                with f.open("rb") as fh:
                    if fh.read(4) in CAPTURE_MAGICS:
                        out.append((f, f"{path}:{f.relative_to(path)}"))
            except OSError:
                continue
    elif (kind := compressed(path)) is not None and not is_tar(path):
        # one capture compressed (gzip, bzip2, xz: Wireshark and tshark read these), written out decompressed
        target = workdir / "capture"
        decompress_into(path, target, kind)
        with target.open("rb") as fh:
            head = fh.read(4)
        if head not in CAPTURE_MAGICS:
            raise InputError(f"not a pcap or pcapng capture once decompressed from {kind} (starts with "
                             f"0x{head.hex()})", str(path))  # fmt: skip
        return [(target, str(path))]
    else:
        members = sorted((m for m in read_members(path) if m[2][:4] in CAPTURE_MAGICS), key=lambda m: (m[1], m[0]))
        bases = [base for _, base, _ in members]
        for i, (name, base, data) in enumerate(members):
            # every capture, two of one base name too (node1/cap.pcap, node2/cap.pcap: the second was left out
            # without a word), each shown by its base name unless another capture has it
            alone = bases.count(base) == 1
            target = _copy(path, workdir, base if alone else f"member-{i}", i, data)
            out.append((target, f"{path}:{base if alone else name}"))
    if not out:
        raise InputError("no pcap or pcapng file in it", str(path))
    return out


def split_retina(files: dict[str, bytes], out: Path) -> None:
    """Cut Retina's metadata files into one file per command, named as ``collect`` names them."""
    want = {("ip", "-d", "-j", "addr", "show"): "ip-addr", ("ip", "rule", "list"): "ip-rule",
            ("ip", "route", "show", "table", "all"): "ip-route", ("iptables-save",): "iptables-save"}  # fmt: skip
    for name in ("ip-resources.txt", "iptables-rules.txt"):
        if name not in files:
            continue
        text = files[name].decode(errors="replace")
        summary, _, body = text.partition("\nExecute:\n")
        # a set: a body line is looked up in it (a list made a crafted file of n commands and lines cost n^2)
        commands = {ln.rpartition("(")[0] for ln in summary.splitlines()[1:] if ln.strip() and "(" in ln}
        sections: dict[str, list[str]] = {}
        current: str | None = None
        for line in body.splitlines():
            if line.strip() in commands:
                current = line.strip()
                sections[current] = []
            elif current is not None:
                sections[current].append(line)
        for cmdline, lines in sections.items():
            argv = tuple(cmdline.split())
            key = (Path(argv[0]).name, *argv[1:]) if argv else ()
            if key in want:
                (out / want[key]).write_text("\n".join(lines).strip("\n") + "\n")
