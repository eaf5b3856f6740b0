"""The warm conversion service: a per-user pool of TensorFlow workers kept across builds.

``server`` is the service process (a pool of ``converter.execution.worker``
workers behind a Unix socket), ``client`` is a build's side of it (find it or
start it, send requests, ask its status, stop it), ``rendezvous`` is where the
two meet (identity by environment and code digest, a private folder, peer
checks).

May import: ``converter.execution`` and the face. Never ``converter.api``.
"""
