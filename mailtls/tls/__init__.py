"""TLS probing: our own ClientHello codec and the cipher-suite registry."""
