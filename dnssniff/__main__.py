"""`python -m dnssniff`."""

from dnssniff.cli import main

main()
