"""Volumes and container mounts: the ``local`` volume driver (:mod:`.local`), mount requests as
dockerd parses them (:mod:`.parse`), the image-content copy-up (:mod:`.copyup`), and
``engine.volumes`` (:mod:`.manager`) with the create/rm hooks the container lifecycle calls."""
