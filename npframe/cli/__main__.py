"""``python -m npframe.cli``: the ``npframe`` command."""

from npframe.cli import main

raise SystemExit(main())
