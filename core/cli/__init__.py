"""Command lines: the only place with argparse and default paths. Run each as ``python -m core.cli.<name>``."""
