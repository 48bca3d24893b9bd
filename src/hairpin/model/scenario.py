"""What a scenario is: plain data describing one cluster on AWS, and nothing that runs.

The VPC with its AZs and subnets, the nodes, the pods, the Services with their load balancer settings,
kube-proxy's mode and version, the CNI, the kernel's TCP settings, and the client whose connections hairpin
follows.  Frozen dataclasses with their defaults; ``hairpin.scenario`` reads and validates them from YAML
(and re-exports them), the simulator and the lab build their networks from them.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, field

__all__ = ["AZ", "Client", "Cni", "Kernel", "KubeProxy", "LoadBalancer", "Node", "Pod", "Scenario", "Service",
           "ServicePort", "Vpc"]  # fmt: skip


@dataclass(frozen=True)
class AZ:
    name: str
    subnets: tuple[str, ...]


@dataclass(frozen=True)
class Vpc:
    cidr: str
    router: str
    azs: tuple[AZ, ...]

    @property
    def family(self) -> int:
        """4 or 6: the family of the VPC CIDR, which is every address's in the scenario (one family per
        scenario: ``hairpin.scenario`` refuses a mixed one)."""
        return 6 if ":" in self.cidr else 4

    def az_of(self, address: str) -> str | None:
        """The AZ whose subnet holds ``address`` (either family)."""
        found = self._find(address)
        return found[1] if found else None

    def subnet_of(self, address: str) -> str | None:
        """The first subnet (AZ by AZ, in the scenario's order) that holds ``address``."""
        found = self._find(address)
        return found[2] if found else None

    def _find(self, address: str) -> tuple[int, str, str] | None:
        """(order, AZ name, subnet) of the first subnet holding ``address``: looked up by the address's network
        at each prefix length the subnets have, so a cluster of thousands of subnets costs a few dictionary
        lookups per address, not a parse of every subnet (``scenario from-cluster`` of a 5,000-node dump whose
        nodes are in 2,500 subnets took 42 s, most of it here)."""
        a = ipaddress.ip_address(address)
        bits = a.max_prefixlen
        hits = [hit for plen, nets in self._index.get(a.version, {}).items()
                if (hit := nets.get(int(a) >> (bits - plen))) is not None]  # fmt: skip
        return min(hits) if hits else None

    @functools.cached_property
    def _index(self) -> dict[int, dict[int, dict[int, tuple[int, str, str]]]]:
        """{IP version: {prefix length: {network number >> host bits: (order, AZ name, subnet)}}}, the first of
        equal networks kept (as a scan in order finds it)."""
        out: dict[int, dict[int, dict[int, tuple[int, str, str]]]] = {}
        order = 0
        for az in self.azs:
            for subnet in az.subnets:
                net = ipaddress.ip_network(subnet)
                key = int(net.network_address) >> (net.max_prefixlen - net.prefixlen)
                out.setdefault(net.version, {}).setdefault(net.prefixlen, {}).setdefault(key, (order, az.name, subnet))
                order += 1
        return out


@dataclass(frozen=True)
class Kernel:
    """The TCP settings of every namespace (Linux defaults; 6.5+ defaults linear_timeouts to 4)."""

    tcp_syn_retries: int = 6
    tcp_syn_linear_timeouts: int = 0
    accept_local: bool = False


@dataclass(frozen=True)
class KubeProxy:
    mode: str = "iptables"  # iptables | nftables | ipvs
    version: str = "1.18"
    #: ``--cluster-cidr`` with detect-local-mode ClusterCIDR (kube-proxy's local-traffic detector); EKS
    #: leaves it unset (None): no detector.
    cluster_cidr: str | None = None
    #: the cluster's service CIDR (ServiceCIDR objects, which kube-proxy watches from 1.33); nftables
    #: mode drops traffic to its unallocated addresses.  None: not known to kube-proxy.
    service_cidr: str | None = None
    #: ``--nodeport-addresses``: CIDRs, or ("primary",) for the node's primary address; None: the mode's
    #: default (iptables: every local address; nftables: the primary address).  0.0.0.0/0 means all.
    node_port_addresses: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Cni:
    name: str = "aws-vpc-cni"
    external_snat: bool = False  # AWS_VPC_K8S_CNI_EXTERNALSNAT
    #: Pod traffic to addresses outside the cluster's pods leaves masqueraded to the node's address, as
    #: overlay CNIs do (Calico IPPool natOutgoing, Cilium masquerading); the AWS VPC CNI does not for
    #: destinations inside the VPC.  Such pods call the NLB like the node itself does.
    nat_outgoing: bool = False
    #: the VPC CNI release ("1.NN") whose host rules hairpin writes (hairpin.kube.cni_layout); the seed's era
    version: str = "1.7"
    #: where aws-node writes its connection-mark rules (v1.23 ``Connmark``): "iptables" (nat PREROUTING and
    #: AWS-CONNMARK-CHAIN-0) or "nftables" (``table ip aws-cni``, on a node whose iptables is nf_tables)
    connmark_backend: str = "iptables"


@dataclass(frozen=True)
class Node:
    name: str
    ip: str
    az: str
    labels: tuple[tuple[str, str], ...] = ()
    #: IPv6: the /80 prefix the VPC CNI delegated to the node's primary ENI (prefix delegation, which the CNI's
    #: IPv6 mode requires), from which its pods take their addresses; None: the VPC routes each pod address
    prefix: str | None = None


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    ip: str
    node: str
    labels: tuple[tuple[str, str], ...] = ()
    host_network: bool = False

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class ServicePort:
    name: str
    protocol: str
    port: int
    target_port: int
    node_port: int | None


@dataclass(frozen=True)
class LoadBalancer:
    """The Service's load balancer, as the AWS Load Balancer Controller would provision it.

    ``preserve_client_ip`` None means the controller's default for the target type: on for
    ``instance`` targets, off for ``ip`` targets with TCP (target group attribute
    ``preserve_client_ip.enabled``; AWS docs, "Target groups for your Network Load Balancers").
    """

    type: str = "nlb"  # nlb | clb
    scheme: str = "internal"  # internal | internet-facing
    target_type: str = "instance"  # instance | ip
    preserve_client_ip: bool | None = None
    cross_zone: bool = False
    proxy_protocol_v2: bool = False
    nodes: tuple[tuple[str, str], ...] = ()  # (az, address) of each NLB node
    target_node_labels: tuple[tuple[str, str], ...] = ()
    #: security groups on the NLB, and the source ranges (CIDRs) its rules, or the targets' rules, admit:
    #: empty admits every caller in the VPC (hairpin.aws.security_groups)
    security_groups: bool = False
    source_ranges: tuple[str, ...] = ()

    @property
    def preserves_client_ip(self) -> bool:
        if self.preserve_client_ip is not None:
            return self.preserve_client_ip
        return self.target_type == "instance"

    def node_in(self, az: str) -> str | None:
        return dict(self.nodes).get(az)


@dataclass(frozen=True)
class Service:
    namespace: str
    name: str
    type: str
    cluster_ip: str
    ports: tuple[ServicePort, ...]
    selector: tuple[tuple[str, str], ...] = ()
    endpoints: tuple[str, ...] = ()  # pod names, in the order kube-proxy writes them
    external_traffic_policy: str = "Cluster"
    health_check_node_port: int | None = None
    load_balancer: LoadBalancer | None = None
    #: spec.externalIPs
    external_ips: tuple[str, ...] = ()
    #: status.loadBalancer.ingress[].ip with ipMode VIP (kube-proxy captures them on every node); the
    #: AWS controllers publish a hostname, so this is empty for their NLBs and CLBs.
    load_balancer_ips: tuple[str, ...] = ()
    #: spec.loadBalancerSourceRanges (CIDRs)
    load_balancer_source_ranges: tuple[str, ...] = ()
    session_affinity: str = "None"  # None | ClientIP
    session_affinity_timeout: int = 10800  # sessionAffinityConfig.clientIP.timeoutSeconds
    internal_traffic_policy: str = "Cluster"  # Cluster | Local

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Client:
    pod: str
    service: str
    port: int
    via: str = "load-balancer"  # load-balancer | cluster-ip
    address: str | None = None  # NLB node address returned by DNS; None: the node in the client's AZ


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    region: str
    vpc: Vpc
    kernel: Kernel
    kube_proxy: KubeProxy
    cni: Cni
    nodes: tuple[Node, ...]
    pods: tuple[Pod, ...]
    services: tuple[Service, ...]
    client: Client
    fix: str | None = None
    #: what the file says that is valid but most likely a mistake, one line each with the file and line
    #: (``hairpin.scenario_checks``); not part of the scenario's identity (equality, hash)
    warnings: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @property
    def family(self) -> int:
        """4 or 6: the scenario's one address family (``Vpc.family``)."""
        return self.vpc.family

    def node(self, name: str) -> Node:
        return self._nodes_by_name[name]

    def pod(self, name: str) -> Pod:
        return self._pods_by_name[name]

    def service(self, key: str) -> Service:
        return self._services_by_key[key]

    # the lookups above by name, the first of a name kept (as a scan in order finds it): a scan per lookup made the
    # closed form's per-node table of a 5,000-node scenario (``scenario from-cluster``) quadratic, 8 s of its 20 s
    @functools.cached_property
    def _nodes_by_name(self) -> dict[str, Node]:
        return {n.name: n for n in reversed(self.nodes)}

    @functools.cached_property
    def _pods_by_name(self) -> dict[str, Pod]:
        return {p.name: p for p in reversed(self.pods)}

    @functools.cached_property
    def _services_by_key(self) -> dict[str, Service]:
        return {s.key: s for s in reversed(self.services)}

    def pods_on(self, node: str) -> list[Pod]:
        return [p for p in self.pods if p.node == node and not p.host_network]

    def endpoints_of(self, service: Service) -> list[Pod]:
        return [self.pod(name) for name in service.endpoints]

    @property
    def client_pod(self) -> Pod:
        return self.pod(self.client.pod)

    @property
    def client_service(self) -> Service:
        return self.service(self.client.service)

    def client_target_address(self) -> str:
        """The address the client connects to: its NLB node, or the ClusterIP."""
        svc = self.client_service
        if self.client.via == "cluster-ip" or svc.load_balancer is None:
            return svc.cluster_ip
        if self.client.address:
            return self.client.address
        az = self.node(self.client_pod.node).az
        addr = svc.load_balancer.node_in(az) or svc.load_balancer.nodes[0][1]
        return addr
