"""Kubernetes-side knowledge: reading cluster objects into hairpin's model (``cluster``) and what kube-proxy
writes for a Service."""
