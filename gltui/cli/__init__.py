"""The command line: argument parsing only. Each verb parses, calls one function of the package
that owns the job, and prints one line or a table; every GltuiError becomes one line on stderr
and exit 2 (commands.py). args.py holds the argument types and the run options, progress.py the
rich progress bars of a run driven headless; check.py and experiment.py are verbs with a file of
their own (commands.py stays under 500 lines by giving a grown verb its own file).

The top of the house with tui/: may import anything below; imports torch and Textual only inside
the verb that needs them.
"""

from gltui.cli.commands import main

__all__ = ["main"]
