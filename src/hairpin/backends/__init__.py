"""Backends build a scenario's topology into something packets cross: ``sim`` (simulated hosts, the
deterministic simulator) and ``lab`` (real network namespaces, real iptables, real TCP)."""
