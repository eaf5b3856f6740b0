"""A GitHub Actions workflow run here, job by job (``runner``), with the ``${{ }}`` expressions
(``expressions``), the cache and artifact actions (``actions``) and setup-python (``python``)
emulated: what ``tests/integration/test_workflow.py`` runs ``.github/workflows`` with."""
