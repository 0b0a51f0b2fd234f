"""``python -m importer`` runs the ``lsq-import`` command line."""

from importer.cli import main

main(prog_name="lsq-import")
