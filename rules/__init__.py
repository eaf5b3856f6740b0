"""Build rules: YAML manifests become incremental doit tasks. Never imports TensorFlow at module level."""
