# dnssniff as a sidecar or ephemeral debug container:
#   kubectl debug -it POD --image=dnssniff --target=CONTAINER -- dnssniff analyze capture.pcap
# Live capture (a later release) needs `capabilities: add: [NET_RAW]`.
FROM python:3.11-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends tcpdump \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY dnssniff ./dnssniff
RUN pip install --no-cache-dir . && rm -rf /src
WORKDIR /work
ENTRYPOINT ["dnssniff"]
CMD ["--help"]
