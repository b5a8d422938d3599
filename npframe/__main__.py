"""``python -m npframe``: the same as the ``npframe`` command."""

from npframe.cli import main

raise SystemExit(main())
