# wgtrace in a container: the statically linked binary and nothing else.
#
# The image is built from a binary compiled beforehand, so `docker build`
# needs no registry (no base image, no crates):
#
#   RUSTFLAGS="-C target-feature=+crt-static" \
#       cargo build --release --locked --target x86_64-unknown-linux-gnu
#   docker build -t wgtrace:local .
#   docker run --rm -v "$PWD/testdata:/data:ro" wgtrace:local \
#       analyze /data/mtu-blackhole/vps.pcap /data/mtu-blackhole/laptop.pcap
#
# The binary needs no files from the image: no libc, no certificates, no
# time zone data (wgtrace prints UTC).
FROM scratch
COPY target/x86_64-unknown-linux-gnu/release/wgtrace /wgtrace
USER 65534:65534
ENTRYPOINT ["/wgtrace"]
