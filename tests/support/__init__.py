"""Test support: a DNS server process and a pod in network namespaces (see netns.py)."""
