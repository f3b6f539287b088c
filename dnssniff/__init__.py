"""dnssniff: show what a Kubernetes pod's DNS lookups really cost."""

__version__ = "0.1.0"
