"""Test support shared by the project's own tests: one certificate builder (``certs``),
observation factories (``factories``), the scripted SMTP server (``smtpserver``) and the
helper that runs a check function and names its verdict (``verdict``)."""
