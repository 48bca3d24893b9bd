"""The lab: a scenario built in real Linux network namespaces, with real iptables, routing and TCP.

    record    what a lab made (namespaces, processes), written before it is made, so that ``down`` and
              ``clean`` remove exactly that, even after Ctrl-C, an exception or a killed process
    identity  how a namespace (nsfs inode and its ctime) or a process (start time) is proven the lab's
              before it is removed, and namespaces made so that the proof is recorded before the name exists
    commands  pure builders: namespace names, the NLB emulation's iptables text, sysctls, command lines
    build     pyroute2 and iptables-restore: the topology (``hairpin.topology``) made real
    client    the program that runs inside the client's namespace and makes the connections
    run       N real connections, the NLB's choices read from conntrack, and the simulator's verdict on
              the same connections

The lab never touches the host namespace: every veth is created inside lab namespaces, and every packet
stays inside them.
"""

from hairpin.backends.lab.build import Lab, down, up
from hairpin.backends.lab.record import LabRecord, clean, labs
from hairpin.backends.lab.run import LabConnection, LabRun, run

__all__ = ["Lab", "LabConnection", "LabRecord", "LabRun", "clean", "down", "labs", "run", "up"]
