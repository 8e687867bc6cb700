"""Test support shipped with dockyard: a pytest plugin (daemon, registry, busybox image fixtures)."""
