"""Diagnosing real clusters: static checks of Services (``check``) and packet captures."""
