"""Registry client: pull and push over the OCI Distribution API, with Docker's auth and progress.

``endpoints`` maps a reference's domain to URLs (mirrors, insecure registries), ``credentials``
reads ``~/.docker/config.json``, ``auth`` runs the Docker token flow, ``client`` is one
registry conversation over keep-alive HTTP, ``pull``/``push`` move images between a registry
and the image store, emitting dockerd's JSON progress messages (``progress``). ``service`` is
the facade the engine calls.
"""
