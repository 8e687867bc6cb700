"""The image store: content-addressed blobs, SQLite metadata, and unpacked layer snapshots.

Under the daemon's data root::

    content/blobs/<alg>/<hex>     blobs by digest, visible only once verified  (content.py)
    content/ingest/               writes in progress                            (content.py)
    metadata.db (+ -wal, -shm)    images, references, layers, snapshots         (metadata.py)
    snapshots/<chainID hex>/fs    each layer unpacked once: an overlayfs lowerdir (snapshots.py)

:class:`~dockyard.store.images.ImageStore` ties them together with dockerd's semantics;
``archive.py`` is ``docker save``/``load``, ``importer.py`` is ``docker import``. Writers add
content inside :meth:`ImageStore.adding`, files first and rows last, so a crash at any point
leaves only orphans, which opening the store collects.
"""
