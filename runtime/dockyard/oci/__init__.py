"""Pure OCI vocabulary, no I/O: references, digests, media types."""
