"""The artifact cache: entries and blobs by key, verified on every read, local and remote.

``artifacts`` is the cache a build uses (keys -> artifact, record and log;
discovered-input sets; the remote dropped with one warning when it fails);
``reapi`` its entries as REAPI ActionResult messages; ``stores`` where the bytes
live, one module per scheme.

May import: ``rules.project`` and below, ``converter.files``. Never doit.
"""
