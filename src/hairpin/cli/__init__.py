"""The command line: a thin typer layer over the library.  One module per command group.

``LEFT_TO_EXIT`` holds what a command leaves to the end of the process instead of freeing it: the objects
of a large dump (``hairpin check`` of a 150,000-Pod List frees about five million of them, 0.23 s of CPU,
before the process ends), a capture's analysis.  When hairpin runs as a program
(``hairpin.cli.main.entry``) and a command left something there, the process ends with ``os._exit`` once
stdout and stderr are flushed, and the operating system takes the memory back at once; called in-process
(``hairpin.cli.main.main``: tests, other Python code), the list is emptied and the objects are freed as usual.
"""

LEFT_TO_EXIT: list[object] = []
