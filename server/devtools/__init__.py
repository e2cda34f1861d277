"""Development-only tools: the dev CA and TSA, sample opinions, demo data.

Production code reaches this package only where it already chooses development material in
development mode (``server.opinions.issue.signing_material`` when no bureau key is configured)
and through the ``demo`` / ``run`` commands of ``server.cli``.
"""
