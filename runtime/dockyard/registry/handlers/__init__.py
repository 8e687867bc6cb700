"""HTTP handlers of the OCI Distribution API: parse the request, call storage, write the reply."""
