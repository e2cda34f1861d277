"""Development-only tools: the dev CA and TSA, sample opinions, demo data.

Production code reaches this package only where it already chooses development material in
development mode, through ``server.devtools.ca``: ``server.opinions.issue.signing_material``
when no bureau key is configured, and the verify command's default trust
(``server.opinions.cli``) when no ``--trust`` is given. ``server.cli``'s ``demo`` and ``run``
commands load the demo data.
"""
